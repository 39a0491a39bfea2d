"""The development tooling agrees with itself: pre-commit runs what make lint runs."""

from __future__ import annotations

import re
from pathlib import Path

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
