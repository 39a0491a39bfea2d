"""A local demo hub with jupyterhub-onboarding: dummy login, embedded SQLite, and real
single-user servers (jupyter-server from the demo's own environment, one home directory per
user under the demo's state directory).

Started by ``make demo`` (demo/run.py), which sets the variables read below. Everything else
is what a real hub's configuration needs to run the service.
"""

import os
import sys

c = get_config()  # noqa: F821

here = os.environ["ONBOARDING_DEMO_DIR"]
port = int(os.environ.get("ONBOARDING_DEMO_PORT", "8000"))
bindir = os.path.dirname(sys.executable)

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

# Real single-user servers as local processes of the user running the demo (no system
# accounts needed): jupyterhub-singleuser, installed with jupyter-server next to the hub.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = f"{here}/home/{{username}}"
c.Spawner.cmd = [os.path.join(bindir, "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root", "--ServerApp.open_browser=False"]
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.JupyterHub.cleanup_servers = True

# Two JupyterHub groups of the demo users (ada is in both), for the usage per group.
c.JupyterHub.load_groups = {
    "physics-101": {"users": ["ada", "grace", "alan"]},
    "maths-club": {"users": ["ada", "katherine", "edsger", "barbara"]},
}

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
    # demo/run.py's scripted users start and stop their servers through this service's token
    {"name": "demo-driver", "api_token": os.environ["ONBOARDING_DEMO_TOKEN"]},
]
# The least the service needs: list users, read their activity and admin flag, see servers,
# and read the hub's authenticator and spawner classes for the monthly report.
c.JupyterHub.load_roles = [
    {
        "name": "onboarding",
        "scopes": ["list:users", "read:users", "read:servers", "read:hub"],
        "services": ["onboarding"],
    },
    {
        "name": "demo-driver",
        "scopes": ["admin:servers", "read:users", "access:services!service=onboarding"],
        "services": ["demo-driver"],
    },
]
