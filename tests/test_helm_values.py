"""helm/onboarding-values.yaml against the zero-to-jupyterhub (z2jh) chart, then run.

1. Deep-merged into the chart's default values, the values validate against the chart's
   JSON schema, and the port the service uses is the same everywhere it appears.
2. The configuration the values carry, loaded as the chart loads it, gives the hub its
   services and roles, and the service its settings (the real ``Onboarding`` application
   reading the mounted files).
3. A real hub started from that configuration runs the service behind the real proxy: the
   status API with the collector's token, the page with the settings from the values,
   the metrics at the address the scrape annotations give.

Stubbed, and only this, is what Kubernetes and the chart's templates do in the hub pod
(``ChartStandIn``). The chart turns ``hub.services`` and ``hub.loadRoles`` into JupyterHub
configuration, with service tokens it generates into a Secret, and reads values through
its ``z2jh`` module, which runs only inside the chart's hub image; the pod has the hub's
volume at /srv/jupyterhub and each ``hub.extraFiles`` entry at its ``mountPath``; the
proxy reaches the hub pod by the Service name ``hub``. The stand-in does the same on this
machine: a ``z2jh`` module reading the merged values, generated tokens, the mounts under a
temporary directory, and 127.0.0.1 with a free port for ``hub:10101``. Everything else is
real: JupyterHub's configuration loading, the hub, configurable-http-proxy, the service.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
import yaml
from harness.hub import running_hub
from harness.process import free_port, wait_until
from jupyterhub.app import JupyterHub

from jupyterhub_onboarding.app import Onboarding
from jupyterhub_onboarding.collector.hubsfile import parse_hubs
from jupyterhub_onboarding.settings import OnboardingEmail, StandardLinks

REPO = Path(__file__).resolve().parent.parent
VALUES_FILE = REPO / "helm" / "onboarding-values.yaml"
README = REPO / "helm" / "README.md"
Z2JH = Path(__file__).parents[2] / "shared" / "z2jh"

SERVICE = "onboarding"
COLLECTOR = "onboarding-collector"
SERVICE_SCOPES = {"list:users", "read:users", "read:servers", "read:hub"}
#: The hub pod's directories the values use (the hub's volume, and the parent of the
#: mounted files); the stand-in maps each to a local directory.
POD_PATHS = ("/srv/jupyterhub", "/usr/local/etc")
HUB_CONFIG_D = "/usr/local/etc/jupyterhub/jupyterhub_config.d/"
SETTINGS = ("hub", "extraFiles", "onboarding-settings", "data")
CONFIG_CLASSES = {
    "Onboarding": Onboarding,
    "StandardLinks": StandardLinks,
    "OnboardingEmail": OnboardingEmail,
}


# --- values ---------------------------------------------------------------------------------


def merge_values_files(*layers: dict) -> dict:
    """Values files merged as ``helm -f a.yaml -f b.yaml`` merges them: mappings key by key,
    anything else, null included, replaced by the later file."""
    merged: dict = {}
    for layer in layers:
        merged = _merge(merged, layer)
    return merged


def _merge(base: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def coalesce(defaults: dict, values: dict) -> dict:
    """*values* over the chart's *defaults*, as Helm coalesces them: null removes a default."""
    result = copy.deepcopy(values)
    for key, default in defaults.items():
        if key not in result:
            result[key] = copy.deepcopy(default)
        elif result[key] is None:
            del result[key]
        elif isinstance(default, dict) and isinstance(result[key], dict):
            result[key] = coalesce(default, result[key])
    return result


def dig(values: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def onboarding_values() -> dict:
    return yaml.safe_load(VALUES_FILE.read_text())


def readme_block(marker: str) -> dict:
    """The YAML block that follows ``<!-- marker -->`` in helm/README.md."""
    match = re.search(rf"<!-- {marker} -->\s*```yaml\n(.*?)```", README.read_text(), re.S)
    assert match, f"helm/README.md has no YAML block after <!-- {marker} -->"
    return yaml.safe_load(match.group(1))


#: A hub's own values: the per-hub example of helm/README.md, as an engineer would use it.
def per_hub_example() -> dict:
    return readme_block("per-hub example")


def without_collector() -> dict:
    return {"hub": {"loadRoles": {COLLECTOR: {"services": []}}}}


def service_port(values: dict) -> int:
    return urlsplit(values["hub"]["services"][SERVICE]["url"]).port


# --- the stand-in for the chart's pod -------------------------------------------------------


Z2JH_STUB = '''\
"""Stand-in for the chart's z2jh module: reads the merged chart values."""
import json
from pathlib import Path

_HERE = Path(__file__).parent
_VALUES = json.loads((_HERE / "values.json").read_text())
_SECRET = json.loads((_HERE / "secret.json").read_text())


def get_config(key, default=None):
    """The chart value at a dotted *key*, or *default*."""
    value = _VALUES
    for part in key.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return default
        value = value[part]
    return value


def get_secret_value(key):
    """A value the chart keeps in the hub Secret, such as a generated service token."""
    return _SECRET[key]
'''

#: How the chart's configuration turns values into JupyterHub configuration, as the chart's
#: schema describes it: services and roles are keyed by name, and a service without a token
#: gets the one the chart generated. Then Python configuration carried in the values runs:
#: extra files mounted into the hub's config directory, and hub.extraConfig, both in order.
CHART_CONFIG = """
import importlib.util as _util
from pathlib import Path as _Path

_spec = _util.spec_from_file_location("z2jh", {z2jh_path!r})
z2jh = _util.module_from_spec(_spec)
_spec.loader.exec_module(z2jh)

for _key, _service in (z2jh.get_config("hub.services") or {{}}).items():
    _service = dict(_service)
    _service.setdefault("name", _key)
    _token = _service.pop("apiToken", None) or _service.get("api_token")
    _service["api_token"] = _token or z2jh.get_secret_value(f"hub.services.{{_key}}.apiToken")
    c.JupyterHub.services.append(_service)

for _key, _role in (z2jh.get_config("hub.loadRoles") or {{}}).items():
    c.JupyterHub.load_roles.append({{"name": _key, **_role}})

_config_d = {config_d!r}
for _file in sorted(z2jh.get_config("hub.extraFiles") or {{}}, key=str):
    _mount = z2jh.get_config(f"hub.extraFiles.{{_file}}")["mountPath"]
    if _mount.startswith(_config_d) and _mount.endswith(".py"):
        exec(compile(_Path(_mount).read_text(), _mount, "exec"), {{"c": c}})
for _key, _source in sorted((z2jh.get_config("hub.extraConfig") or {{}}).items()):
    exec(compile(_source, _key, "exec"), {{"c": c, "get_config": z2jh.get_config}})
"""


class ChartStandIn:
    """What the chart and Kubernetes do for the hub pod, done in *root* on this machine."""

    def __init__(self, values: dict, root: Path) -> None:
        self.root = Path(root)
        self.mounts = {path: self.root / path.strip("/").replace("/", "-") for path in POD_PATHS}
        self.values = self._relocate(values)
        self.tokens = {
            f"hub.services.{name}.apiToken": secrets.token_hex(16)
            for name, service in self.values["hub"]["services"].items()
            if not (service.get("api_token") or service.get("apiToken"))
        }

    def token(self, service: str) -> str:
        return self.tokens[f"hub.services.{service}.apiToken"]

    def pod_path(self, path: str) -> Path:
        return Path(self._relocate(path))

    def _relocate(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._relocate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._relocate(item) for item in value]
        if isinstance(value, str):
            for pod_path, local in self.mounts.items():
                value = value.replace(pod_path, str(local))
        return value

    def mount_extra_files(self) -> None:
        """Write each hub.extraFiles entry to its mountPath, rendered as the chart does:
        stringData as is, data as JSON or YAML after the file's extension."""
        for directory in self.mounts.values():
            directory.mkdir(parents=True, exist_ok=True)
        for entry in self.values["hub"].get("extraFiles", {}).values():
            path = Path(entry["mountPath"])
            path.parent.mkdir(parents=True, exist_ok=True)
            if "stringData" in entry:
                path.write_text(entry["stringData"])
            elif path.suffix == ".json":
                path.write_text(json.dumps(entry["data"], indent=2))
            else:
                path.write_text(yaml.safe_dump(entry["data"]))

    def hub_config(self) -> str:
        """Python configuration for the hub: the chart's handling of the values."""
        stub_dir = self.root / "z2jh"
        stub_dir.mkdir(parents=True, exist_ok=True)
        (stub_dir / "z2jh.py").write_text(Z2JH_STUB)
        (stub_dir / "values.json").write_text(json.dumps(self.values))
        secret = stub_dir / "secret.json"
        secret.touch(mode=0o600)
        secret.write_text(json.dumps(self.tokens))
        return CHART_CONFIG.format(
            z2jh_path=str(stub_dir / "z2jh.py"), config_d=self._relocate(HUB_CONFIG_D)
        )


# --- 1. the values are valid for the chart --------------------------------------------------


@pytest.fixture(scope="module")
def chart() -> tuple[dict, jsonschema.Draft7Validator]:
    if not (Z2JH / "values.schema.json").is_file() or not (Z2JH / "values.yaml").is_file():
        reason = f"the z2jh chart's values.schema.json and values.yaml are not in {Z2JH}"
        print(reason)
        pytest.skip(reason)
    schema = json.loads((Z2JH / "values.schema.json").read_text())
    defaults = yaml.safe_load((Z2JH / "values.yaml").read_text())
    return defaults, jsonschema.Draft7Validator(schema)


def schema_errors(validator: jsonschema.Draft7Validator, values: dict) -> list[str]:
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(values)
    ]


@pytest.mark.parametrize(
    "layers",
    [
        pytest.param(lambda: [onboarding_values()], id="values"),
        pytest.param(lambda: [onboarding_values(), per_hub_example()], id="with-per-hub-example"),
        pytest.param(lambda: [onboarding_values(), without_collector()], id="without-collector"),
    ],
)
def test_values_validate_against_the_chart_schema(chart, layers):
    defaults, validator = chart
    values = coalesce(defaults, merge_values_files(*layers()))
    assert schema_errors(validator, values) == []


def test_the_schema_check_catches_a_misplaced_key(chart):
    """The check above can fail: the chart's schema refuses keys it does not know."""
    defaults, validator = chart
    values = coalesce(defaults, merge_values_files(onboarding_values(), {"hub": {"custom": {}}}))
    assert schema_errors(validator, values) == [
        "hub: Additional properties are not allowed ('custom' was unexpected)"
    ]


def test_the_service_port_is_the_same_everywhere():
    values = onboarding_values()
    hub = values["hub"]
    port = service_port(values)
    assert urlsplit(hub["services"][SERVICE]["url"]).hostname == "hub"
    assert [(p["port"], p["targetPort"]) for p in hub["service"]["extraPorts"]] == [(port, port)]

    [rule] = hub["networkPolicy"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [port]
    peers = [peer["podSelector"]["matchLabels"] for peer in rule["from"]]
    assert {"app": "jupyterhub", "component": "proxy"} in peers
    assert {"hub.jupyter.org/network-access-hub": "true"} in peers

    [egress] = values["proxy"]["chp"]["networkPolicy"]["egress"]
    assert [p["port"] for p in egress["ports"]] == [port]
    assert egress["to"] == [
        {"podSelector": {"matchLabels": {"app": "jupyterhub", "component": "hub"}}}
    ]

    annotations = hub["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == f"/services/{SERVICE}/metrics"


def test_the_values_carry_no_token():
    for name, service in onboarding_values()["hub"]["services"].items():
        assert not {"api_token", "apiToken"} & set(service), f"{name} sets a token"


def test_the_readme_collector_example_is_a_valid_hubs_file(tmp_path):
    [hub] = parse_hubs(readme_block("collector example"), tmp_path)
    assert hub.status_url == f"https://community.example.org/services/{SERVICE}/api/v1/status"
    assert hub.token_env == "COMMUNITY_ONBOARDING_TOKEN"


# --- 2. the configuration the values carry --------------------------------------------------


def load_hub_config(stand_in: ChartStandIn) -> JupyterHub:
    """A real JupyterHub application with the chart's configuration file loaded."""
    config_file = stand_in.root / "jupyterhub_config.py"
    config_file.write_text(stand_in.hub_config())
    hub = JupyterHub()
    hub.load_config_file(str(config_file))
    return hub


def test_the_hub_gets_the_services_and_roles(tmp_path):
    stand_in = ChartStandIn(onboarding_values(), tmp_path)
    hub = load_hub_config(stand_in)

    services = {service["name"]: service for service in hub.services}
    assert set(services) == {SERVICE, COLLECTOR}
    onboarding = services[SERVICE]
    assert onboarding["url"] == "http://hub:10101"
    assert onboarding["display"] is True
    assert onboarding["oauth_no_confirm"] is True
    assert onboarding["cwd"] == str(stand_in.pod_path("/srv/jupyterhub"))
    assert onboarding["command"][:3] == ["python3", "-m", "jupyterhub_onboarding"]
    assert onboarding["api_token"] == stand_in.token(SERVICE)
    # The collector is an account with a token and nothing to run or route to.
    assert services[COLLECTOR] == {"name": COLLECTOR, "api_token": stand_in.token(COLLECTOR)}

    roles = {role["name"]: role for role in hub.load_roles}
    assert set(roles) == {SERVICE, COLLECTOR}
    assert set(roles[SERVICE]["scopes"]) == SERVICE_SCOPES
    assert roles[SERVICE]["services"] == [SERVICE]
    assert roles[COLLECTOR]["scopes"] == [f"access:services!service={SERVICE}"]
    assert roles[COLLECTOR]["services"] == [COLLECTOR]


def test_without_the_collector_its_token_grants_nothing(tmp_path):
    values = merge_values_files(onboarding_values(), without_collector())
    hub = load_hub_config(ChartStandIn(values, tmp_path))
    roles = {role["name"]: role for role in hub.load_roles}
    # The hub makes a role's members exactly those listed: none, so the account is left
    # with a token and no permission.
    assert roles[COLLECTOR]["services"] == []
    assert roles[SERVICE]["services"] == [SERVICE]


def test_the_hub_runs_extra_config_from_the_values(tmp_path):
    """Python configuration in hub.extraConfig or hub.extraFiles under the hub's config
    directory runs when the hub loads its configuration (the values add none today)."""
    extra = {
        "hub": {
            "extraConfig": {"zz-probe.py": "c.JupyterHub.shutdown_on_logout = True\n"},
            "extraFiles": {
                "probe": {
                    "mountPath": "/usr/local/etc/jupyterhub/jupyterhub_config.d/probe.py",
                    "stringData": "c.JupyterHub.concurrent_spawn_limit = 7\n",
                }
            },
        }
    }
    stand_in = ChartStandIn(merge_values_files(onboarding_values(), extra), tmp_path)
    stand_in.mount_extra_files()
    hub = load_hub_config(stand_in)
    assert hub.shutdown_on_logout is True
    assert hub.concurrent_spawn_limit == 7


def start_onboarding(stand_in: ChartStandIn, service_url: str, monkeypatch) -> Onboarding:
    """The real service application, configured from its command in the values and the
    files the chart mounts, with the environment the hub gives a managed service."""
    stand_in.mount_extra_files()
    command = stand_in.values["hub"]["services"][SERVICE]["command"]
    assert command[:3] == ["python3", "-m", "jupyterhub_onboarding"]
    monkeypatch.setenv("JUPYTERHUB_SERVICE_URL", service_url)
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    app = Onboarding()
    app.initialize(command[3:])
    return app


def test_the_service_gets_its_settings_from_the_values(tmp_path, monkeypatch):
    example = per_hub_example()
    values = merge_values_files(onboarding_values(), example)
    stand_in = ChartStandIn(values, tmp_path)
    app = start_onboarding(stand_in, values["hub"]["services"][SERVICE]["url"], monkeypatch)
    links = StandardLinks(parent=app)
    email = OnboardingEmail(parent=app)

    etc = stand_in.pod_path("/usr/local/etc/jupyterhub-onboarding")
    assert app.config_file == str(etc / "jupyterhub_onboarding_config.py")
    # The hub says http://hub:10101; the service listens on all of the pod's interfaces.
    assert app.bind_url == "http://:10101"
    assert app.service_url == "http://hub:10101"
    pv = stand_in.pod_path("/srv/jupyterhub")
    assert app.db_url == f"sqlite:///{pv}/jupyterhub_onboarding.sqlite"
    assert app.cookie_secret_file == f"{pv}/jupyterhub_onboarding_cookie_secret"
    assert app.authenticate_prometheus is False

    assert app.public_url == "https://community.example.org"
    assert app.live_since == "2026-11-02"
    assert app.first_value_threshold == 3
    assert app.excluded_users == {"ada-staff", "grace-staff"}
    # The default exclusion of the health-check account stays.
    rules = app.counting_rules()
    assert rules.excluded_pattern.fullmatch("deployment-service-check")
    assert links.tier == "premier"
    assert links.premier_guide_url == "https://docs.example.org/premier/"
    assert links.grafana_cost_url == "https://grafana.example.org/d/cost"
    assert email.account_manager == "Jo Rivera"

    # Every setting in the example reached its trait, with the value the example gives.
    for class_name, settings in dig(example, SETTINGS).items():
        configurable = {"Onboarding": app, "StandardLinks": links, "OnboardingEmail": email}[
            class_name
        ]
        for name, value in settings.items():
            expected = set(value) if isinstance(value, list) else value
            assert getattr(configurable, name) == expected, f"{class_name}.{name}"


def test_every_setting_names_a_real_option():
    """traitlets only warns about an unknown option: a misspelt setting would be ignored."""
    values = merge_values_files(onboarding_values(), per_hub_example())
    settings = dig(values, SETTINGS)
    assert set(settings) <= set(CONFIG_CLASSES)
    for class_name, options in settings.items():
        known = set(CONFIG_CLASSES[class_name].class_trait_names(config=True))
        assert set(options) <= known, f"unknown {class_name} options: {set(options) - known}"


def test_without_a_service_url_the_service_keeps_its_default(tmp_path, monkeypatch):
    """Run by hand in the pod (say, --help-all), the config file does not fail."""
    stand_in = ChartStandIn(onboarding_values(), tmp_path)
    stand_in.mount_extra_files()
    monkeypatch.delenv("JUPYTERHUB_SERVICE_URL", raising=False)
    app = Onboarding()
    app.initialize(stand_in.values["hub"]["services"][SERVICE]["command"][3:])
    assert app.bind_url == ""
    assert app.service_url == "http://127.0.0.1:10101"


# --- 3. a real hub from the values ----------------------------------------------------------


#: Only for the test's pace: poll the hub every half second.
FAST_POLLS = {
    "hub": {"extraFiles": {"onboarding-settings": {"data": {"Onboarding": {"poll_interval": 0.5}}}}}
}


@pytest.fixture(scope="module")
def chart_hub(tmp_path_factory):
    """A real hub and proxy with the services, roles and files of the values."""
    workdir = tmp_path_factory.mktemp("chart-hub")
    values = merge_values_files(onboarding_values(), per_hub_example(), FAST_POLLS)
    # The proxy reaches the hub pod as hub:10101; here the pod is this machine.
    port = free_port()
    service = values["hub"]["services"][SERVICE]
    assert service["url"] == f"http://hub:{service_port(values)}"
    service["url"] = f"http://127.0.0.1:{port}"
    stand_in = ChartStandIn(values, workdir / "pod")
    stand_in.mount_extra_files()
    # The hub fixture defines a service of the same name with its own role: the values'
    # definitions replace them, so that only the values grant the service its scopes.
    ours = set(stand_in.values["hub"]["services"])
    hub_config = textwrap.dedent(
        f"""
        c.JupyterHub.services = [s for s in c.JupyterHub.services if s["name"] not in {ours!r}]
        c.JupyterHub.load_roles = [
            r for r in c.JupyterHub.load_roles if not set(r.get("services", [])) & {ours!r}
        ]
        """
    )
    with running_hub(workdir / "hub", hub_config=hub_config + stand_in.hub_config()) as hub:
        yield hub, stand_in, port


@pytest.mark.integration
def test_the_service_runs_with_the_values_settings(chart_hub):
    hub, stand_in, _ = chart_hub
    staff = hub.login("ada-staff")
    alice = hub.login("alice")
    staff.close()
    alice.close()
    for name in ("ada-staff", "alice"):
        assert hub.api("GET", f"users/{name}").json()["last_activity"], name

    status = wait_until(
        lambda: (lambda s: s if s["first_value"]["users_logged_in"] >= 1 else None)(
            hub.status(token=stand_in.token(COLLECTOR))
        ),
        60,
        "the service to see alice",
    )
    # ada-staff logged in before alice, so a poll that saw alice saw her too: not counted.
    assert status["first_value"]["users_logged_in"] == 1
    assert status["first_value"]["threshold"] == 3
    assert status["first_value"]["live_since"].startswith("2026-11-02")
    assert status["hub"]["url"] == "https://community.example.org"

    pv = stand_in.pod_path("/srv/jupyterhub")
    assert (pv / "jupyterhub_onboarding.sqlite").is_file()
    assert (pv / "jupyterhub_onboarding_cookie_secret").is_file()


@pytest.mark.integration
def test_the_collector_token_reads_the_status_and_nothing_else(chart_hub):
    hub, stand_in, _ = chart_hub
    headers = {"Authorization": f"token {stand_in.token(COLLECTOR)}"}
    assert hub.status_response(stand_in.token(COLLECTOR)).status_code == 200
    assert httpx.get(f"{hub.url}/hub/api/users", headers=headers).status_code == 403


@pytest.mark.integration
def test_the_service_token_has_the_role_of_the_values(chart_hub):
    hub, stand_in, _ = chart_hub
    response = httpx.get(
        f"{hub.url}/hub/api/user", headers={"Authorization": f"token {stand_in.token(SERVICE)}"}
    )
    assert response.status_code == 200
    model = response.json()
    assert model["kind"] == "service"
    assert model["name"] == SERVICE
    assert set(model["scopes"]) >= SERVICE_SCOPES
    assert not {"admin:users", "admin:servers", "access:services"} & set(model["scopes"])


@pytest.mark.integration
def test_the_scrape_annotations_reach_the_metrics(chart_hub):
    hub, stand_in, port = chart_hub
    path = stand_in.values["hub"]["annotations"]["prometheus.io/path"]
    # Prometheus scrapes the pod's address, not the one in the service URL: 127.0.0.2 is
    # an address of this machine that only a service listening on all interfaces answers.
    response = httpx.get(f"http://127.0.0.2:{port}{path}", timeout=10)
    assert response.status_code == 200
    assert "jupyterhub_onboarding_" in response.text
    # authenticate_prometheus is off in the values: no token needed through the proxy either.
    assert httpx.get(f"{hub.url}{path}", timeout=10).status_code == 200


@pytest.mark.integration
def test_the_page_is_reachable_through_the_proxy(chart_hub):
    hub, _, _ = chart_hub
    admin = hub.login("admin")
    try:
        page = admin.get(f"/services/{SERVICE}/")
    finally:
        admin.close()
    assert page.status_code == 200
    assert urlsplit(str(page.url)).path == f"/services/{SERVICE}/"
    settings = dig(per_hub_example(), SETTINGS)["StandardLinks"]
    assert settings["premier_guide_url"] in page.text
    assert settings["grafana_usage_url"] in page.text


def test_the_pseudonym_key_comes_from_the_kubernetes_secret(tmp_path, monkeypatch):
    """The Secret onboarding-billing, mounted where the values say, gives the service its
    key; without it (the volume is optional) the service has none and starts all the same."""
    values = onboarding_values()
    (volume,) = [v for v in values["hub"]["extraVolumes"] if v["name"] == "onboarding-billing"]
    assert volume["secret"] == {
        "secretName": "onboarding-billing",
        "optional": True,
        "defaultMode": 0o400,
    }
    (mount,) = [m for m in values["hub"]["extraVolumeMounts"] if m["name"] == volume["name"]]
    monkeypatch.delenv("ONBOARDING_BILLING_PSEUDONYM_KEY", raising=False)
    url = values["hub"]["services"][SERVICE]["url"]

    without = ChartStandIn(values, tmp_path / "without")
    assert start_onboarding(without, url, monkeypatch).billing_pseudonym_key == ""

    with_secret = ChartStandIn(values, tmp_path / "with")
    secret_dir = with_secret.pod_path(mount["mountPath"])
    secret_dir.mkdir(parents=True)
    (secret_dir / "pseudonym-key").write_text("community-secret-0123456789\n")
    app = start_onboarding(with_secret, url, monkeypatch)
    assert app.billing_pseudonym_key == "community-secret-0123456789"
