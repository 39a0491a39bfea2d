"""A local demo hub with jupyterhub-onboarding: dummy login, embedded SQLite.

Started by ``make demo`` (demo/run.py), which sets the variables read below. Everything else
is what a real hub's configuration needs to run the service.
"""

import os
import sys

c = get_config()  # noqa: F821

here = os.environ["ONBOARDING_DEMO_DIR"]
port = int(os.environ.get("ONBOARDING_DEMO_PORT", "8000"))

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_port = port + 81
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.JupyterHub.db_url = f"sqlite:///{here}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{here}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{here}/jupyterhub.pid"
c.JupyterHub.redirect_to_server = False

# Demo login: any username, password "demo". Not for a real hub.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("ONBOARDING_DEMO_PASSWORD", "demo")
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"admin"}

# The service: the hub starts it, gives it a token and routes /services/onboarding/ to it.
c.JupyterHub.services = [
    {
        "name": "onboarding",
        "url": f"http://127.0.0.1:{port + 2}",
        "command": [sys.executable, "-m", "jupyterhub_onboarding"],
        "cwd": here,  # jupyterhub_onboarding.sqlite and the config file live here
        "display": True,
        "oauth_no_confirm": True,
    },
]
# The least the service needs: list users, read their activity and admin flag, see servers.
c.JupyterHub.load_roles = [
    {
        "name": "onboarding",
        "scopes": ["list:users", "read:users", "read:servers"],
        "services": ["onboarding"],
    },
]
