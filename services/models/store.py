"""The model registry in the data directory: every trained version of every scope, and which of
them is champion.

Layout, under ``<data dir>/models``::

    <scope>/<version>/model.onnx     the model
    <scope>/<version>/model.json     its training card, plus a ``registry`` record: the sha256 of
                                     model.onnx, the parent version, the training window (first and
                                     last event time, requests, sha256 of the ids), the trigger and
                                     the champion's and challenger's validation metrics
    <scope>/aliases.json             {"champion": v, "challenger": v, "previous": v} (null for none)

``<scope>`` is a tenant's name, or ``_global`` for the global scope (tenant ``""``), whose champion
serves every tenant without one of its own. Version names are unique across scopes
(``<scope>.<n>-<first 8 hex digits of the digest>``).

Writes are atomic: a version is assembled in a dot-named staging folder, checked, and renamed into
place (a crash leaves only a staging folder, which :meth:`ModelStore.discard_staging` removes and
every reader ignores); ``aliases.json`` is replaced whole (``runtime/files.py``). Nothing becomes
champion implicitly: only :meth:`ModelStore.set_aliases` moves an alias, and it refuses a version
that is missing, corrupt (its digest does not match) or incompatible (ONNX Runtime cannot open it,
or its card names other features than the cache sends), changing nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from predis.services.cache.features import FEATURES
from predis.services.runtime.errors import InvalidInput, NotFound
from predis.services.runtime.files import write_atomically
from predis.services.runtime.tenancy import validate_tenant

log = logging.getLogger(__name__)

GLOBAL = ""  # the global scope's tenant name
GLOBAL_FOLDER = "_global"
ALIASES_FILE = "aliases.json"
MODEL_FILE = "model.onnx"
CARD_FILE = "model.json"
FORMAT = "predis-model-store/1"
ALIAS_NAMES = ("champion", "challenger", "previous")


class CorruptModel(InvalidInput):
    """A stored model does not match its digest, does not open, or does not fit the cache."""


def scope_folder(tenant: str) -> str:
    """The folder of a scope: the tenant's name, or ``_global`` for the global scope ("")."""
    if tenant == GLOBAL:
        return GLOBAL_FOLDER
    validate_tenant(tenant)
    if tenant == GLOBAL_FOLDER or tenant in {".", ".."}:
        raise InvalidInput(f"tenant name {tenant!r} is reserved by the model store; use another")
    return tenant


def describe_scope(tenant: str) -> str:
    return "the global scope" if tenant == GLOBAL else f"tenant {tenant!r}"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _feature_problem(card_features: object, expected: tuple[str, ...]) -> str | None:
    if not isinstance(card_features, list) or not all(isinstance(f, str) for f in card_features):
        return "its card does not list its input features under 'features'"
    if tuple(card_features) == expected:
        return None
    missing = [f for f in expected if f not in card_features]
    extra = [f for f in card_features if f not in expected]
    if missing or extra:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
            [f"names {', '.join(extra)}, which the cache does not send"] if extra else []
        )
        return f"its card {' and '.join(parts)}"
    return f"its card names the cache's features in another order ({', '.join(card_features)})"


@dataclass(frozen=True)
class StoredVersion:
    """One version in the store. ``path`` is its directory (model.onnx and model.json)."""

    tenant: str
    version: str
    path: Path
    card: Mapping[str, Any]

    @property
    def record(self) -> Mapping[str, Any]:
        """The registry's record of it (digest, parent, training window, trigger, validation)."""
        record = self.card.get("registry")
        return record if isinstance(record, dict) else {}

    @property
    def sequence(self) -> int:
        value = self.record.get("sequence", 0)
        return value if isinstance(value, int) else 0


@dataclass(frozen=True)
class Aliases:
    champion: str | None = None
    challenger: str | None = None
    previous: str | None = None


class ModelStore:
    """The registry under ``data_dir/models``. ``features``: the feature names, in order, the
    cache sends; a version whose card names others is refused (None: not checked)."""

    def __init__(self, data_dir: Path, features: tuple[str, ...] | None = FEATURES) -> None:
        self.root = Path(data_dir) / "models"
        self.features = features

    # -- reads -------------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Every scope that has a folder in the store, the global scope ("") first."""
        if not self.root.is_dir():
            return []
        scopes: list[str] = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            if folder.name == GLOBAL_FOLDER:
                scopes.insert(0, GLOBAL)
                continue
            try:
                scopes.append(validate_tenant(folder.name))
            except InvalidInput:
                log.warning("ignoring %s: not a tenant's folder", folder)
        return scopes

    def aliases(self, tenant: str) -> Aliases:
        """The scope's aliases; none set when it has no aliases file. A torn or foreign file is
        refused (CorruptModel) rather than read as "no champion"."""
        path = self.root / scope_folder(tenant) / ALIASES_FILE
        if not path.exists():
            return Aliases()
        try:
            body = json.loads(path.read_text())
            values = {name: body.get(name) for name in ALIAS_NAMES}
            if not all(v is None or (isinstance(v, str) and v) for v in values.values()):
                raise ValueError("an alias is neither a version name nor null")
        except (OSError, ValueError, AttributeError) as error:
            raise CorruptModel(f"{path} cannot be read as the scope's aliases: {error}") from None
        return Aliases(**values)

    def champion(self, tenant: str) -> StoredVersion | None:
        name = self.aliases(tenant).champion
        return None if name is None else self.get(name, tenant)

    def champions(self) -> list[StoredVersion]:
        """Every scope's champion, the global scope's first: what a starting predictor loads. A
        scope whose aliases or champion cannot be read, or whose champion no longer matches its
        digest, is skipped with a log line."""
        found = []
        for tenant in self.tenants():
            try:
                champion = self.champion(tenant)
                if champion is not None:
                    self.check_digest(champion)
            except (InvalidInput, NotFound) as error:
                log.warning("skipping the champion of %s: %s", describe_scope(tenant), error)
                continue
            if champion is not None:
                found.append(champion)
        return found

    def versions(self, tenant: str) -> list[StoredVersion]:
        """The scope's versions, oldest first; unreadable folders are skipped with a log line."""
        folder = self.root / scope_folder(tenant)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            if not path.is_dir() or path.name.startswith("."):
                continue
            try:
                found.append(self._read(tenant, path))
            except CorruptModel as error:
                log.warning("skipping %s: %s", path, error)
        return sorted(found, key=lambda v: (v.sequence, v.version))

    def get(self, version: str, tenant: str | None = None) -> StoredVersion:
        """A version by name, in ``tenant``'s scope or (None) in any. NotFound when absent."""
        self._check_version_name(version)
        scopes = [tenant] if tenant is not None else self.tenants()
        for scope in scopes:
            path = self.root / scope_folder(scope) / version
            if path.is_dir():
                return self._read(scope, path)
        where = describe_scope(tenant) if tenant is not None else "any scope"
        raise NotFound(f"model version {version!r} is not in the model store ({where}; under {self.root})")

    def verify(self, stored: StoredVersion) -> None:
        """Checks that the version is whole and loadable: model.onnx matches the recorded digest,
        ONNX Runtime opens it, and its card names the cache's features. CorruptModel otherwise."""
        self.check_digest(stored)
        self._check_loadable(stored.path, stored.card, f"version {stored.version!r}")

    def check_digest(self, stored: StoredVersion) -> None:
        """CorruptModel unless model.onnx is there and matches the digest recorded at commit (a
        version placed in the store by hand, without a record, has no digest to compare)."""
        model = stored.path / MODEL_FILE
        expected = stored.record.get("sha256")
        if not model.is_file():
            raise CorruptModel(f"version {stored.version!r} has no {MODEL_FILE} in {stored.path}")
        if expected is None:
            return
        actual = file_digest(model)
        if expected != actual:
            raise CorruptModel(
                f"version {stored.version!r}: {model} does not match its recorded digest "
                f"(sha256 {str(expected)[:12]}... recorded, {actual[:12]}... on disk); it is corrupt"
            )

    # -- writes ------------------------------------------------------------------------------

    def staging(self, tenant: str, label: str) -> Path:
        """A fresh, empty staging folder in the scope, for a version being assembled."""
        folder = self.root / scope_folder(tenant)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f".staging-{label}-{os.getpid()}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        return path

    def commit(
        self, tenant: str, staging: Path, record: Mapping[str, Any], version: str | None = None
    ) -> StoredVersion:
        """Turns a staging folder holding model.onnx and model.json (a training card) into a new
        version: checks it (CorruptModel: the staging folder is removed and nothing changes), adds
        the registry record (``record`` plus digest, sequence, scope and time) to the card, and
        renames the folder into place. ``version`` names it; None: ``<scope>.<n>-<digest>``."""
        folder = self.root / scope_folder(tenant)
        try:
            card = self._read_card(staging / CARD_FILE)
            self._check_loadable(staging, card, "the new model")
            digest = file_digest(staging / MODEL_FILE)
        except (CorruptModel, FileNotFoundError, OSError) as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, CorruptModel):
                raise
            raise CorruptModel(f"the new model cannot be read: {error}") from None
        sequence = 1 + max((v.sequence for v in self.versions(tenant)), default=0)
        name = version or f"{scope_folder(tenant)}.{sequence}-{digest[:8]}"
        self._check_version_name(name)
        final = folder / name
        if final.exists():
            shutil.rmtree(staging, ignore_errors=True)
            raise InvalidInput(f"model version {name!r} is already in the store")
        registry = {
            "format": FORMAT,
            **record,
            "tenant": tenant,
            "version": name,
            "sequence": sequence,
            "sha256": digest,
            "committed_unix_nano": time.time_ns(),
        }
        write_atomically(staging / CARD_FILE, (json.dumps({**card, "registry": registry}, indent=2) + "\n").encode())
        for leftover in staging.iterdir():
            if leftover.name not in (MODEL_FILE, CARD_FILE):
                leftover.unlink()
        _fsync_dir(staging)
        staging.rename(final)
        _fsync_dir(folder)
        return self._read(tenant, final)

    def adopt(self, tenant: str, version: str, source: Path, record: Mapping[str, Any]) -> StoredVersion:
        """Copies a model directory made elsewhere (``predis train``, one loaded into the predictor
        by hand) into the store under its own version name, so that it can be an alias."""
        staging = self.staging(tenant, f"adopt-{version}")
        try:
            shutil.copyfile(Path(source) / MODEL_FILE, staging / MODEL_FILE)
            shutil.copyfile(Path(source) / CARD_FILE, staging / CARD_FILE)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise NotFound(f"cannot copy the model directory {source}: {error}") from None
        return self.commit(tenant, staging, {**record, "adopted_from": str(source)}, version=version)

    def set_aliases(self, tenant: str, **changes: str | None) -> Aliases:
        """Moves the named aliases (``champion=``, ``challenger=``, ``previous=``; None clears one)
        in one atomic write. Every version named must be in the scope, and a new champion must
        pass :meth:`verify`; otherwise nothing changes. A torn aliases file is replaced only when
        all three are named."""
        unknown = set(changes) - set(ALIAS_NAMES)
        if unknown:
            raise InvalidInput(f"unknown alias {sorted(unknown)[0]!r}; aliases are {', '.join(ALIAS_NAMES)}")
        for alias, version in changes.items():
            if version is None:
                continue
            stored = self.get(version, tenant)
            if alias == "champion":
                self.verify(stored)
        try:
            current = self.aliases(tenant)
        except CorruptModel as error:
            if set(changes) != set(ALIAS_NAMES):  # what the torn file said cannot be kept
                raise CorruptModel(f"{error}; name all of {', '.join(ALIAS_NAMES)} to replace it") from None
            current = Aliases()
        aliases = replace(current, **changes)
        folder = self.root / scope_folder(tenant)
        folder.mkdir(parents=True, exist_ok=True)
        body = {"format": FORMAT, **aliases.__dict__, "updated_unix_nano": time.time_ns()}
        write_atomically(folder / ALIASES_FILE, (json.dumps(body, indent=2) + "\n").encode())
        return aliases

    def discard_staging(self) -> list[Path]:
        """Removes staging folders left by a writer that stopped mid-way (at start)."""
        if not self.root.is_dir():
            return []
        left = [p for p in self.root.glob("*/.staging-*") if p.is_dir()]
        for path in left:
            shutil.rmtree(path, ignore_errors=True)
        return left

    def prune(self, tenant: str, keep: int) -> list[str]:
        """Removes the scope's oldest versions beyond ``keep``, never an aliased one."""
        aliased = {v for v in self.aliases(tenant).__dict__.values() if v is not None}
        versions = [v for v in self.versions(tenant) if v.version not in aliased]
        allowed = max(keep - len(aliased), 0)
        removed = []
        for stored in versions[: max(len(versions) - allowed, 0)]:
            shutil.rmtree(stored.path, ignore_errors=True)
            removed.append(stored.version)
        return removed

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _check_version_name(version: str) -> None:
        if not version or "/" in version or version.startswith(".") or len(version) > 200:
            raise InvalidInput(f"{version[:80]!r} is not a model version name")

    def _read(self, tenant: str, path: Path) -> StoredVersion:
        return StoredVersion(tenant, path.name, path, self._read_card(path / CARD_FILE))

    @staticmethod
    def _read_card(path: Path) -> dict[str, Any]:
        try:
            card = json.loads(path.read_text())
        except FileNotFoundError:
            raise CorruptModel(f"{path} is missing; a version holds {MODEL_FILE} and {CARD_FILE}") from None
        except (OSError, ValueError) as error:
            raise CorruptModel(f"{path} is not a readable model card: {error}") from None
        if not isinstance(card, dict):
            raise CorruptModel(f"{path} is not a model card (a JSON object)")
        return card

    def _check_loadable(self, directory: Path, card: Mapping[str, Any], what: str) -> None:
        from predis.services.predictor.model_files import OnnxScorer

        problem = _feature_problem(card.get("features"), self.features) if self.features is not None else None
        if problem is not None:
            raise CorruptModel(
                f"{what} does not fit the cache: {problem} (the cache sends {', '.join(self.features or ())})"
            )
        features = card.get("features")
        try:
            OnnxScorer(directory / MODEL_FILE, len(features) if isinstance(features, list) else 0)
        except (InvalidInput, NotFound) as error:
            raise CorruptModel(f"{what} cannot be loaded: {error}") from None
