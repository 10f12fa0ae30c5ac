"""What the predictor had loaded, kept on disk so that a restarted predictor serves the same
models: each version's directory, scope (tenant), role and traffic weight, rewritten after every
change.

Written atomically (``runtime/files.py``), so a crash mid-write leaves the previous manifest
whole. A manifest that cannot be read, or an entry whose model no longer opens, is skipped with a
log line: a restart must never fail because a model went away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from predis.services.runtime.files import write_atomically

log = logging.getLogger(__name__)

FORMAT = "predis-predictor-manifest/2"
OLDER_FORMATS = ("predis-predictor-manifest/1",)  # before scopes: every version was global
FILE_NAME = "loaded-models.json"


@dataclass(frozen=True)
class LoadedEntry:
    version: str
    path: str
    role: str  # "champion", "challenger" or "shadow"
    traffic_weight: float
    tenant: str = ""  # its scope; "" for the global scope


class LoadedManifest:
    """The manifest in ``directory`` (created when missing)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME

    def save(self, entries: Sequence[LoadedEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": FORMAT, "models": [e.__dict__ for e in entries]}
        write_atomically(self.path, json.dumps(body).encode())

    def read(self) -> list[LoadedEntry]:
        """The entries, champions first; [] when there is no manifest or it cannot be read."""
        if not self.path.exists():
            return []
        try:
            body = json.loads(self.path.read_text())
            if body.get("format") not in (FORMAT, *OLDER_FORMATS):
                raise ValueError(f"format {body.get('format')!r}, expected {FORMAT!r}")
            entries = [
                LoadedEntry(
                    str(m["version"]),
                    str(m["path"]),
                    str(m["role"]),
                    float(m["traffic_weight"]),
                    str(m.get("tenant", "")),
                )
                for m in body["models"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the loaded-models manifest %s: %s", self.path, error)
            return []
        return sorted(entries, key=lambda e: e.role != "champion")
