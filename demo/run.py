"""Start the demo hub with the onboarding service, and log demo users in so numbers move.

Run with ``make demo``; stop with Ctrl+C.
"""

from __future__ import annotations

import http.cookiejar
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = HERE.parent / ".demo"
PORT = int(os.environ.get("ONBOARDING_DEMO_PORT", "8000"))
PASSWORD = os.environ.get("ONBOARDING_DEMO_PASSWORD", "demo")
URL = f"http://127.0.0.1:{PORT}"
DEMO_USERS = ["ada", "grace", "alan", "katherine", "edsger", "barbara"]


def log_in(name: str) -> None:
    """Log *name* in through the hub's login form, as a browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{URL}/hub/login", timeout=30).read()
    xsrf = next((cookie.value for cookie in jar if cookie.name == "_xsrf"), "")
    form = urllib.parse.urlencode({"username": name, "password": PASSWORD, "_xsrf": xsrf})
    opener.open(f"{URL}/hub/login", data=form.encode(), timeout=30).read()


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
    """Three users now, then one more every 20 seconds: first value arrives at the fifth."""
    for index, name in enumerate(DEMO_USERS):
        if stop.wait(0 if index < 3 else 20):
            return
        try:
            log_in(name)
            print(f"demo: {name} logged in", flush=True)
        except OSError as error:
            print(f"demo: could not log {name} in ({error})", flush=True)


def main() -> None:
    STATE.mkdir(exist_ok=True)
    config = STATE / "jupyterhub_onboarding_config.py"
    if not config.exists():
        config.write_text(
            "c = get_config()  # noqa\n"
            "c.Onboarding.poll_interval = 5\n"
            "c.StandardLinks.tier = 'advanced'\n"
            "c.OnboardingEmail.customer_name = 'the Demo Community team'\n"
            "c.OnboardingEmail.account_manager = 'Demo Account Manager'\n"
        )
    env = dict(os.environ, ONBOARDING_DEMO_DIR=str(STATE), ONBOARDING_DEMO_PORT=str(PORT))
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    proc = subprocess.Popen(
        [os.path.join(bindir, "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
        cwd=STATE,
        env=env,
    )
    stop = threading.Event()
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
