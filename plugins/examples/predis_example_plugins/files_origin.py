"""The ``files`` origin: each value is a file in a folder.

``PREDIS_ORIGIN=files:///srv/values`` reads key ``K`` from the file ``/srv/values/K``;
with ``?tenant_dirs=true`` it reads ``/srv/values/TENANT/K`` instead, so tenants see different
values. In key and tenant, every byte but letters, digits and ``_.-~:@+=,`` is percent-encoded
into the file name (``page:1`` is the file ``page:1``, ``user/7`` the file ``user%2F7``), so no key
reaches outside the folder. A missing file is a missing key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from predis.plugins import OriginFactory, OriginSpec, hookimpl

SAFE = ":@+=,"  # besides letters, digits and _.-~, which quote() never encodes


def file_name(part: bytes | str) -> str | None:
    """``part`` as one file name, or None when no file can have it (empty, ``.`` or ``..``)."""
    name = quote(part, safe=SAFE)
    return None if name in ("", ".", "..") else name


class FilesOrigin:
    """Stateless, so safe to call from the cache's origin worker threads."""

    def __init__(self, root: Path, tenant_dirs: bool) -> None:
        self.root = root
        self.tenant_dirs = tenant_dirs

    def path_of(self, tenant: str, key: bytes) -> Path | None:
        """The file holding ``key`` for ``tenant``, or None when the key cannot name one."""
        name = file_name(key)
        if name is None:
            return None
        if not self.tenant_dirs:
            return self.root / name
        folder = file_name(tenant)
        return None if folder is None else self.root / folder / name

    def fetch(self, tenant: str, key: bytes) -> bytes | None:
        path = self.path_of(tenant, key)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None  # not found; any other OSError (permissions, I/O) reaches the caller as UNAVAILABLE

    def close(self) -> None:
        return None


def make_files_origin(spec: OriginSpec) -> FilesOrigin:
    """The origin for ``files:FOLDER?tenant_dirs=true|false``; ValueError when it cannot work."""
    if not spec.location:
        raise ValueError("files origin: say which folder, as in files:///srv/values")
    root = Path(spec.location)
    if not root.is_dir():
        raise ValueError(f"files origin: {str(root)!r} is not a folder")
    unknown = set(spec.options) - {"tenant_dirs"}
    if unknown:
        raise ValueError(f"files origin: unknown option(s) {', '.join(sorted(unknown))} (it takes tenant_dirs)")
    tenant_dirs = spec.options.get("tenant_dirs", "false").lower()
    if tenant_dirs not in ("true", "false"):
        raise ValueError(f"files origin: tenant_dirs={tenant_dirs!r} is not true or false")
    return FilesOrigin(root, tenant_dirs == "true")


@hookimpl
def predis_register_origins(register: Callable[[str, OriginFactory], None]) -> None:
    register("files", make_files_origin)
