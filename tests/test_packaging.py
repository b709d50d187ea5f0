"""`pip install .` builds: the flat layout names its packages, and the wheel holds every one of them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tutor", "learner_models", "metacog", "lti")


def test_the_wheel_builds_and_holds_every_package(tmp_path):
    # Built from a copy (with the other top-level folders that made discovery fail), so no build/ or
    # *.egg-info is left in the checkout; without build isolation, so nothing is downloaded.
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in (*PACKAGES, "templates", "static", "content", "docs", "scripts"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "manage.py"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "whl"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = (tmp_path / "whl").glob("metis-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(init.parent.relative_to(ROOT))
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    packaged = {name.rsplit("/", 1)[0] for name in names if name.endswith("/__init__.py")}
    assert packaged == expected
    assert {name.split("/", 1)[0] for name in names} == {*PACKAGES, wheel.name.split("-py3")[0] + ".dist-info"}
