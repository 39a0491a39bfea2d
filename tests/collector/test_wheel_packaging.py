"""The built wheel: both stores' migrations shipped, the collector's needs only in its extra."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "jupyterhub_onboarding"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        timeout=300,
    )
    (path,) = dist.glob("jupyterhub_onboarding-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_ships_every_migration_with_its_template(wheel):
    shipped = set(wheel.namelist())
    for store in ("service", "collector"):
        migrations = PACKAGE / store / "migrations"
        files = [
            path.relative_to(ROOT).as_posix()
            for path in migrations.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ]
        assert f"jupyterhub_onboarding/{store}/migrations/script.py.mako" in files
        assert f"jupyterhub_onboarding/{store}/migrations/versions/0001_initial.py" in files
        assert set(files) <= shipped, sorted(set(files) - shipped)
    assert "jupyterhub_onboarding/db.py" in shipped


def test_pyyaml_and_tqdm_come_with_the_collector_extra_only(wheel):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(name).decode())
    requirements = metadata.get_all("Requires-Dist")
    base = [r for r in requirements if "extra ==" not in r]
    collector = [r for r in requirements if "extra == 'collector'" in r]
    assert "collector" in metadata.get_all("Provides-Extra")
    assert not [r for r in base if r.lower().startswith(("pyyaml", "tqdm"))], base
    assert sorted(r.split("<")[0].split(">")[0].lower() for r in collector) == ["pyyaml", "tqdm"]
