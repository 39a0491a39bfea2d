"""A real Prometheus server for tests, and the PromQL shipped in the dashboard and rules.

Usage::

    target = ScrapeTarget("onboarding", "127.0.0.1:8000", "/services/onboarding/metrics",
                          labels={"namespace": "test-hub"}, token=hub.status_token)
    with running_prometheus(tmp_path, [target]) as prom:
        prom.wait_for_query('up{job="onboarding"} == 1', timeout=30)
        result = prom.query("jupyterhub_onboarding_users_logged_in")

The server is Debian's ``/usr/bin/prometheus`` on a free loopback port with a temporary
TSDB, scraping and evaluating rules every second and loading ``onboarding-rules.yaml``;
with ``alertmanagers=["host:port"]`` it sends the alerts there (see harness.alertmanager).
Start-up waits on ``/-/ready`` (:class:`harness.process.HttpProcess`); :func:`find_binary`
tells whether the binaries exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness import ROOT
from harness.process import HttpProcess, wait_until

RULES_FILE = ROOT / "docs" / "prometheus" / "onboarding-rules.yaml"
RULES_TEST_FILE = ROOT / "docs" / "prometheus" / "onboarding-rules.test.yaml"
DASHBOARD_FILE = ROOT / "docs" / "grafana" / "onboarding-dashboard.json"

#: What Grafana puts in place of its built-in variables when a dashboard query runs here.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def find_binary(name: str) -> str | None:
    """The path of *name* on PATH or in /usr/bin (Debian's prometheus package), or None."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path("/usr/bin") / name
    return str(candidate) if candidate.exists() else None


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: *address* is ``host:port``; *token* is sent as ``Authorization: token``."""

    job: str
    address: str
    metrics_path: str = "/metrics"
    labels: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None

    def scrape_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "job_name": self.job,
            "metrics_path": self.metrics_path,
            "scheme": "http",
            "static_configs": [{"targets": [self.address], "labels": dict(self.labels)}],
        }
        if self.token:
            # The hub expects "Authorization: token ..."; Prometheus writes "<type> <credentials>".
            config["authorization"] = {"type": "token", "credentials": self.token}
        return config


class PrometheusServer(HttpProcess):
    """A Prometheus process scraping *targets* every second with *rule_files* loaded."""

    label = "Prometheus"
    ready_path = "/-/ready"

    def __init__(
        self,
        workdir: Path,
        targets: Sequence[ScrapeTarget],
        rule_files: Sequence[Path] = (RULES_FILE,),
        binary: str = "/usr/bin/prometheus",
        alertmanagers: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir, "prometheus.log")
        #: more command-line flags, e.g. a retention for recorded samples of long ago
        self.extra_args = list(extra_args)
        #: ``host:port`` of each Alertmanager the rules' alerts are sent to.
        self.alertmanagers = list(alertmanagers)
        self.targets = list(targets)
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.binary = binary
        self.config_path = self.workdir / "prometheus.yml"

    def prepare(self) -> None:
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [target.scrape_config() for target in self.targets],
        }
        if self.alertmanagers:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": self.alertmanagers}]}]
            }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        # the config holds scrape tokens
        os.chmod(self.config_path, 0o600)

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'tsdb'}",
            f"--web.listen-address={self.address}",
            "--log.level=info",
            *self.extra_args,
        ]

    # -- HTTP API --------------------------------------------------------------------------

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/{path}``; the ``data`` of a successful answer, else AssertionError."""
        response = self.client.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"/api/v1/{path} {params}: {response.status_code} {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate *expr* now; the result as a list of ``{"metric", "value"}`` (a scalar is
        returned as one element without labels)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def wait_for_query(
        self,
        expr: str,
        timeout: float = 30,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
    ) -> list[dict[str, Any]]:
        """Evaluate *expr* until its result satisfies *predicate* (non-empty by default)."""
        return wait_until(
            lambda: (lambda r: r if predicate(r) else None)(self.query(expr)),
            timeout,
            f"PromQL {expr!r} (Prometheus log:\n{self.log_tail(10)})",
            interval=0.25,
        )

    def alerts(self, name: str) -> list[dict[str, Any]]:
        """The active (pending or firing) alerts called *name*."""
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health and state."""
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def targets_up(self) -> dict[str, str]:
        """Scrape job -> health ('up', 'down' or 'unknown')."""
        return {
            target["labels"]["job"]: target["health"]
            for target in self.api("targets")["activeTargets"]
        }


@contextlib.contextmanager
def running_prometheus(
    workdir: Path, targets: Sequence[ScrapeTarget], **kwargs: Any
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(workdir, targets, **kwargs)
    server.start()
    try:
        yield server
    except BaseException:
        print(f"Prometheus log tail:\n{server.log_tail()}")
        raise
    finally:
        server.stop()


def value_of(result: list[dict[str, Any]]) -> float:
    """The single value of an instant-query result with exactly one element."""
    assert len(result) == 1, f"expected one series, got {json.dumps(result)}"
    return float(result[0]["value"][1])


# -- the PromQL we ship -----------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


def load_rules() -> dict[str, Any]:
    return yaml.safe_load(RULES_FILE.read_text())


def iter_panels(panels: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(panel title / refId, expr)`` for every query target of every panel."""
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in iter_panels(dashboard["panels"])
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def rule_expressions(rules: dict[str, Any]) -> list[tuple[str, str]]:
    """``(alert name [reason], expr)`` for every rule in the rule file."""
    found = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            reason = rule.get("labels", {}).get("reason")
            found.append((f"{name} [{reason}]" if reason else name, rule["expr"]))
    return found


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` as Grafana does; an unknown variable is an error."""
    known = {**BUILTIN_VARIABLES, **variables}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in known:
            raise KeyError(f"no value for dashboard variable ${name} in {expr!r}")
        return known[name]

    return _VARIABLE.sub(replace, expr)


def metric_names(expr: str) -> set[str]:
    """The onboarding series names an expression reads."""
    return set(re.findall(r"\bjupyterhub_onboarding_\w+", expr))
