"""The collector as the ``collector`` extra: without it, one line naming the extra, status 2.

The commands run in a Python where the extra's modules cannot be imported: a
``sitecustomize`` on PYTHONPATH puts a finder first on ``sys.meta_path`` that refuses them,
as if PyYAML and tqdm were not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyterhub_onboarding.collector.extras import EXTRA_MODULES, extras_message

REPO = Path(__file__).resolve().parent.parent.parent

BLOCKER = '''"""Refuse the modules named in $ONBOARDING_TEST_UNINSTALLED, as if not installed."""
import os
import sys

UNINSTALLED = set(filter(None, os.environ.get("ONBOARDING_TEST_UNINSTALLED", "").split(",")))


class Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in UNINSTALLED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Uninstalled())
'''


def run_without(tmp_path: Path, modules: list[str], *args: str) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in *tmp_path* with *modules* unimportable."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTERHUB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    env["ONBOARDING_TEST_UNINSTALLED"] = ",".join(modules)
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration  # starts a process
@pytest.mark.parametrize(
    ("modules", "missing"),
    [
        (["tqdm", "yaml"], "tqdm, PyYAML"),
        (["tqdm"], "tqdm"),
        (["yaml"], "PyYAML"),
    ],
)
def test_collect_without_the_extra_names_it_in_one_line(tmp_path, modules, missing):
    (tmp_path / "x.yaml").write_text("- {name: a, hub_url: 'http://127.0.0.1:9', token_env: T}\n")
    run = run_without(
        tmp_path, modules, "-m", "jupyterhub_onboarding", "collect", "--hubs", "x.yaml"
    )
    assert run.returncode == 2, run.stderr
    expected = (
        "jupyterhub-onboarding collect needs the collector extra: "
        f'pip install "jupyterhub-onboarding[collector]" (missing: {missing})\n'
    )
    assert run.stderr == expected
    assert run.stdout == ""


@pytest.mark.integration  # starts a process
def test_the_blocker_really_hides_the_modules(tmp_path):
    run = run_without(tmp_path, ["tqdm"], "-c", "import tqdm")
    assert run.returncode == 1 and "ModuleNotFoundError: No module named 'tqdm'" in run.stderr


@pytest.mark.integration  # starts a process
def test_the_service_needs_none_of_the_extra(tmp_path):
    """The hub side (service, page, core, and the command without ``collect``) imports
    neither PyYAML nor tqdm: with both missing it still imports and answers --help."""
    probe = (
        "import jupyterhub_onboarding.app, jupyterhub_onboarding.service.wiring\n"
        "import jupyterhub_onboarding.page.handlers, jupyterhub_onboarding.db\n"
    )
    run = run_without(tmp_path, list(EXTRA_MODULES), "-c", probe)
    assert run.returncode == 0, run.stderr
    help_run = run_without(tmp_path, list(EXTRA_MODULES), "-m", "jupyterhub_onboarding", "--help")
    assert help_run.returncode == 0, help_run.stderr
    assert "collect" in help_run.stdout


def test_the_message_names_the_extra_and_what_is_missing():
    assert extras_message(["tqdm"]) == (
        "jupyterhub-onboarding collect needs the collector extra: "
        'pip install "jupyterhub-onboarding[collector]" (missing: tqdm)'
    )
