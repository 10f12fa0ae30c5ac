"""One distribution with the import root `predis` and no bare top-level names."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Folders inside the package folders that are distributions of their own, never in the predis wheel.
SEPARATE_DISTRIBUTIONS = (REPO / "plugins" / "examples",)
IGNORED = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")


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
            if any(init.is_relative_to(separate) for separate in SEPARATE_DISTRIBUTIONS):
                continue
            rel = init.parent.relative_to(folder)
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])


def test_the_example_plugins_are_a_distribution_of_their_own_outside_the_predis_wheel(tmp_path: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ and egg-info there
    for folder in project["tool"]["setuptools"]["package-dir"].values():
        shutil.copytree(REPO / folder, src / folder, ignore=IGNORED)
    for file in ("pyproject.toml", project["project"]["readme"]):
        shutil.copy(REPO / file, src / file)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-deps"]
    subprocess.run([*pip, "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("predis-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "predis/plugins/manager.py" in names
    assert not [n for n in names if "examples" in n or "predis_example_plugins" in n]
    for separate in SEPARATE_DISTRIBUTIONS:
        own = tomllib.loads((separate / "pyproject.toml").read_text())["project"]
        assert own["name"] != "predis" and own["entry-points"]["predis"]
