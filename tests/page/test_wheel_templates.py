"""The built wheel ships the templates, and an installed copy finds them outside the checkout."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

PROBE = textwrap.dedent(
    """
    import json
    from datetime import datetime, timedelta, timezone

    import jupyterhub_onboarding
    from jupyterhub_onboarding.app import Onboarding
    from jupyterhub_onboarding.core.links import resolve_links
    from jupyterhub_onboarding.settings import StandardLinks
    from jupyterhub_onboarding.page.handlers import landing_namespace
    from jupyterhub_onboarding.core.snapshot import (
        Aggregates, Settings, TrackerState, build_snapshot,
    )
    from jupyterhub_onboarding.page.templating import (
        build_environment, find_data_files_path, hub_page_namespace, layout_source, render_page,
    )

    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    snapshot = build_snapshot(
        Aggregates(users_logged_in=3, admin_logged_in=True, users_known=4),
        Settings(hub_url="https://hub.example.org", live_since=now - timedelta(days=3)),
        TrackerState(last_success_at=now),
        now,
    )
    links = resolve_links(StandardLinks().link_settings(), "https://hub.example.org")
    configured = Onboarding().data_files_path
    env = build_environment([], configured)
    namespace = {
        **hub_page_namespace({"name": "admin", "admin": True}, "/hub/"),
        **landing_namespace(
            snapshot, links, hub_url="https://hub.example.org", support_email="support@2i2c.org",
            response_time="one business day", service_prefix="/services/onboarding/",
            threshold=5,
        ),
    }
    html, policy = render_page(env, "onboarding-onboarding.html", namespace, "nonce")
    print(json.dumps({
        "module": jupyterhub_onboarding.__file__,
        "found": str(find_data_files_path()),
        "configured": configured,
        "layout": layout_source(env),
        "html": html,
    }))
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel installed (dependencies are reused
    from the test environment through a ``.pth`` file, so nothing is downloaded for them)."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("jupyterhub_onboarding-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=120,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [path for path in site.getsitepackages() if "site-packages" in path]
    Path(purelib, "test-dependencies.pth").write_text("\n".join(deps) + "\n")
    return venv


def test_installed_wheel_finds_its_templates_from_outside_the_checkout(installed, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", PROBE],
        cwd=tmp_path,  # not the checkout: nothing can come from ./share
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["module"]).is_relative_to(installed), found["module"]
    data = installed / "share" / "jupyterhub-onboarding"
    assert Path(found["found"]) == data
    assert Path(found["configured"]) == data  # the Onboarding.data_files_path default
    assert (data / "templates" / "jupyterhub-onboarding.sentinel").is_file()
    assert (data / "templates" / "standalone" / "page.html").is_file()
    assert found["layout"].endswith("share/jupyterhub/templates/page.html")  # the hub's layout
    assert "3 of 5 users have logged in" in found["html"]
    assert 'id="jupyterhub-logo"' in found["html"]
