"""One distribution with the import root `predis` and no bare top-level names."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_only_predis_is_importable_from_outside_the_repo(tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u;"
        "print([n for n in ('services', 'sdk', 'plugins', 'protos') if u.find_spec(n) is not None]);"
        "import predis, predis.services, predis.plugins, predis.v1; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[]", "ok"]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {REPO / folder: name for name, folder in config["package-dir"].items()}
    found = set()
    for folder, name in roots.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])


def test_compose_runs_the_same_four_services_beside_jaeger() -> None:
    yaml = __import__("yaml")
    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    assert {"jaeger", "cache", "predictor", "drift", "retrainer"} == set(services)
    for name in ("cache", "predictor", "drift", "retrainer"):
        assert services[name]["command"][:3] == ["predis", "serve", name]
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
