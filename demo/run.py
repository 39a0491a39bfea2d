"""Start the demo hub with the onboarding service, and script demo users so every figure moves.

The users log in (first value arrives at the fifth), and some start real single-user
servers and stop them again, so the "started a server" basis and the rolling windows move
too. Run with ``make demo``; stop with Ctrl+C (or SIGTERM): the hub stops the servers.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("ONBOARDING_DEMO_STATE", HERE.parent / ".demo")).resolve()
PORT = int(os.environ.get("ONBOARDING_DEMO_PORT", "8000"))
PASSWORD = os.environ.get("ONBOARDING_DEMO_PASSWORD", "demo")
#: The token of the hub's demo-driver service, which starts and stops the demo servers.
TOKEN = os.environ.get("ONBOARDING_DEMO_TOKEN") or secrets.token_hex(16)
URL = f"http://127.0.0.1:{PORT}"
DEMO_USERS = ["ada", "grace", "alan", "katherine", "edsger", "barbara"]
#: The demo users who start a server right after logging in.
SERVER_USERS = ("ada", "alan", "edsger")


def log_in(name: str) -> None:
    """Log *name* in through the hub's login form, as a browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{URL}/hub/login", timeout=30).read()
    xsrf = next((cookie.value for cookie in jar if cookie.name == "_xsrf"), "")
    form = urllib.parse.urlencode({"username": name, "password": PASSWORD, "_xsrf": xsrf})
    opener.open(f"{URL}/hub/login", data=form.encode(), timeout=30).read()


def hub_api(method: str, path: str) -> int:
    """A hub API request as the demo-driver service; returns the HTTP status."""
    request = urllib.request.Request(
        f"{URL}/hub/api/{path}",
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        data=json.dumps({}).encode() if method == "POST" else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_server(name: str) -> None:
    status = hub_api("POST", f"users/{name}/server")
    print(f"demo: {name} starts a server ({status})", flush=True)


def stop_server(name: str) -> None:
    status = hub_api("DELETE", f"users/{name}/server")
    print(f"demo: {name} stops their server ({status})", flush=True)


def wait_for_hub(proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"jupyterhub exited with status {proc.returncode}; see the log above")
        try:
            with urllib.request.urlopen(f"{URL}/services/onboarding/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the demo hub did not answer at {URL} within {timeout:.0f}s")


def demo_activity(stop: threading.Event) -> None:
    """Three users now, then one more every 20 seconds: first value arrives at the fifth.

    Some start a server right after logging in; from then on, every 30 seconds one user's
    server stops or starts again, so the server figures keep moving while the demo runs.
    """
    for index, name in enumerate(DEMO_USERS):
        if stop.wait(0 if index < 3 else 20):
            return
        try:
            log_in(name)
            print(f"demo: {name} logged in", flush=True)
            if name in SERVER_USERS:
                start_server(name)
        except OSError as error:
            print(f"demo: could not script {name} ({error})", flush=True)
    running = set(SERVER_USERS)
    turn = 0
    while not stop.wait(30):
        name = DEMO_USERS[turn % len(DEMO_USERS)]
        turn += 1
        try:
            if name in running:
                stop_server(name)
                running.discard(name)
            else:
                start_server(name)
                running.add(name)
        except OSError as error:
            print(f"demo: could not script {name} ({error})", flush=True)


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM (from a supervisor or a test) stops the demo as Ctrl+C does."""
    raise KeyboardInterrupt


def main() -> None:
    STATE.mkdir(exist_ok=True)
    config = STATE / "jupyterhub_onboarding_config.py"
    if not config.exists():
        config.write_text(
            "c = get_config()  # noqa\n"
            "c.Onboarding.poll_interval = 5\n"
            "c.StandardLinks.tier = 'advanced'\n"
            "c.OnboardingEmail.community_name = 'Demo Community'\n"
            "c.OnboardingEmail.contact_name = 'Ada'\n"
            "c.OnboardingEmail.customer_email = 'ada@demo.example.org'\n"
            "c.OnboardingEmail.account_manager = 'Demo Account Manager'\n"
            "c.OnboardingEmail.first_invoice = 'at the start of next month'\n"
        )
    env = dict(
        os.environ,
        ONBOARDING_DEMO_DIR=str(STATE),
        ONBOARDING_DEMO_PORT=str(PORT),
        ONBOARDING_DEMO_TOKEN=TOKEN,
    )
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    proc = subprocess.Popen(
        [os.path.join(bindir, "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
        cwd=STATE,
        env=env,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, interrupt)
    try:
        wait_for_hub(proc)
        print(
            f"\n  Demo hub:         {URL}/hub/login\n"
            f"  Onboarding page:  {URL}/services/onboarding/\n"
            f"  Admin login:      admin / {PASSWORD}  (any other name is a regular user)\n"
            "  Stop with Ctrl+C.\n",
            flush=True,
        )
        threading.Thread(target=demo_activity, args=(stop,), daemon=True).start()
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
