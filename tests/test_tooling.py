"""The development tooling agrees with itself: pre-commit runs what make lint runs; make test
runs both suites whatever the first gave; make help lists every target."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pinned_in_pyproject() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    return dict(re.findall(r'"([A-Za-z][\w-]*)==([\w.]+)"', text))


def test_pre_commit_pins_the_lint_tools_of_pyproject():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "import-linter"} <= set(hooks)
    pins = pinned_in_pyproject()
    for hook in hooks.values():
        for requirement in hook.get("additional_dependencies", []):
            name, _, version = requirement.partition("==")
            assert version, f"{hook['id']}: {requirement} is not pinned"
            assert pins.get(name) == version, f"{hook['id']}: {requirement} != pyproject.toml"


def test_make_lint_runs_ruff_mypy_and_the_layering_contracts():
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for command in ("ruff check", "ruff format --check", "mypy", "lint-imports"):
        assert command in lint, command


@pytest.mark.integration  # starts make
@pytest.mark.parametrize(("main", "jupyterhub5"), [(3, 0), (0, 4), (0, 0)])
def test_make_test_runs_both_suites_and_fails_if_either_failed(tmp_path, main, jupyterhub5):
    """Both runs happen whatever the first one gave; ``make test`` fails if either failed.
    The two pytest runs are stand-ins that log and exit with the given codes; the
    environments and the proxy are marked installed, lint and the Debian packages skipped."""
    log = tmp_path / "ran.log"
    venv, venv_jh5, node = tmp_path / "venv", tmp_path / "venv-jh5", tmp_path / "node"
    for marker in (
        venv / ".installed",
        venv_jh5 / ".installed",
        node / "node_modules" / ".bin" / "configurable-http-proxy",
    ):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def stand_in(name: str, code: int) -> str:
        return f"sh -c 'echo {name} >> {log}; exit {code}' --"

    run = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "-o", "lint", "-o", "system-packages",
         "test", f"VENV={venv}", f"VENV_JH5={venv_jh5}", f"NODE_PREFIX={node}",
         f"PYTEST={stand_in('main', main)}", f"PYTEST_JH5={stand_in('jupyterhub5', jupyterhub5)}"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert log.read_text().split() == ["main", "jupyterhub5"]
    assert (run.returncode == 0) == (main == jupyterhub5 == 0), run.stdout + run.stderr
    if main or jupyterhub5:
        # the JupyterHub 5 run is a make of its own: its failure is make's code 2
        expected = f"the suite exited {main}, the JupyterHub 5 run {2 if jupyterhub5 else 0}"
        assert expected in run.stdout


@pytest.mark.integration  # starts make
def test_make_help_lists_every_target_with_a_description():
    run_targets = re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.M)
    help_lines = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    described = {line.split()[1]: " ".join(line.split()[2:]) for line in help_lines}
    assert set(described) == set(run_targets)
    assert all(described.values())
