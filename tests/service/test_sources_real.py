"""The check-in sources against real components.

- Storage: the real ``prometheus-dirsize-exporter`` over real directories of known sizes,
  scraped by a real Prometheus, read by the storage poller; Prometheus stopped (the last
  figures stay, the problem says unreachable) and started again (the figures move).
- Cost: a real Prometheus holding recorded hourly cost samples (``promtool tsdb
  create-blocks-from openmetrics``), evaluated for a month, in total and per group.
- Hub configuration: a real hub, read with and without the ``read:hub`` scope.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from harness.components import require_component
from harness.hub import running_hub
from harness.process import ProcessExited, free_port, wait_until
from harness.prometheus import PrometheusServer, ScrapeTarget, find_binary
from prometheus_client.parser import text_string_to_metric_families

from jupyterhub_onboarding.core.clock import utcnow
from jupyterhub_onboarding.core.rules import add_months, month_label, month_of
from jupyterhub_onboarding.core.sources import UNREACHABLE
from jupyterhub_onboarding.core.usage import month_bounds
from jupyterhub_onboarding.retry import RetryPolicy
from jupyterhub_onboarding.service.cost import CostReader
from jupyterhub_onboarding.service.homestorage import StoragePoller
from jupyterhub_onboarding.service.hubclient import HubClient
from jupyterhub_onboarding.service.hubinfo import read_hub_configuration
from jupyterhub_onboarding.service.prometheus import PrometheusReader

pytestmark = pytest.mark.integration
UTC = timezone.utc
BIN = Path(sys.executable).parent
NO_RETRY = RetryPolicy(retries=0)
#: Recorded samples reach weeks back: keep them (the default keeps 15 days behind the newest).
RETENTION = ["--storage.tsdb.retention.time=3650d"]


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    path = find_binary("prometheus")
    require_component("prometheus", path is not None, "Debian package prometheus")
    return str(path)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = find_binary("promtool")
    require_component("promtool", path is not None, "Debian package prometheus")
    return str(path)


# -- storage ------------------------------------------------------------------------------


def write_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def exporter_size(directory: Path) -> int:
    """What the dirsize exporter reports for *directory*, from its source: the apparent size
    (``st_size``, not blocks) of every file, symlink (not followed) and directory in it,
    the directory itself included."""
    total = directory.stat().st_size
    for root, dirs, files in os.walk(directory):
        for name in files:
            total += (Path(root) / name).lstat().st_size
        for name in dirs:
            total += (Path(root) / name).stat().st_size
    return total


class DirsizeExporter:
    """``dirsize-exporter PARENT IOPS WAIT_MINUTES --port N``: measures at start, then
    waits an hour (longer than any test), serving its gauges on /metrics."""

    def __init__(self, parent: Path, log: Path) -> None:
        self.parent = parent
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        # an IOPS budget of 1000 and an hour between measurements
        return [str(BIN / "dirsize-exporter"), str(self.parent), "1000", "60"]

    def start(self, expected: dict[str, int]) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.command(), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def measured() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcessExited(f"dirsize-exporter exited:\n{self.log.read_text()}")
            return self.sizes() == expected

        wait_until(measured, 60, "the dirsize exporter's first measurement")

    def sizes(self) -> dict[str, int]:
        """The sizes the exporter serves now, by directory."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=2).text
        return {
            sample.labels["directory"]: int(sample.value)
            for family in text_string_to_metric_families(text)
            if family.name == "dirsize_total_size_bytes"
            for sample in family.samples
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    """Home directories of known sizes, one with a hostile name, one file sparse."""
    parent = tmp_path / "homes"
    write_file(parent / "ada" / "notebook.ipynb", 1_000)
    write_file(parent / "ada" / "data" / "table.csv", 12_345)
    (parent / "ada" / "link").symlink_to("data/table.csv")
    write_file(parent / "grace" / "big.bin", 1_048_576)
    # apparent size counts, not blocks: 50 MB that take no space on disk
    with open(parent / "grace" / "sparse.img", "wb") as sparse:
        sparse.truncate(50_000_000)
    write_file(parent / 'q"uote\\back<b>' / "x", 5)
    return parent


@pytest.fixture
def exporter(homes: Path, tmp_path: Path) -> Iterator[DirsizeExporter]:
    exporter = DirsizeExporter(homes, tmp_path / "dirsize.log")
    yield exporter
    exporter.stop()


async def test_storage_from_the_dirsize_exporter_through_prometheus(
    homes, exporter, prometheus_binary, tmp_path
):
    expected = {path.name: exporter_size(path) for path in homes.iterdir()}
    assert expected["grace"] > 51_048_576  # the sparse file's 50 MB counted
    exporter.start(expected)
    prom = PrometheusServer(
        tmp_path / "prometheus",
        [ScrapeTarget("dirsize", f"127.0.0.1:{exporter.port}")],
        rule_files=(),
        binary=prometheus_binary,
    )
    prom.start()
    try:
        prom.wait_for_query("count(dirsize_total_size_bytes) == 3")
        poller = StoragePoller(
            PrometheusReader(prom.url, retry_policy=NO_RETRY),
            query="dirsize_total_size_bytes",
            usernames=lambda: ["ada", "grace", "someone-without-a-home"],
        )
        before = utcnow()
        state = await poller.read_once()
        assert state.current and state.figures is not None
        figures = state.figures
        assert figures.by_user() == {"ada": expected["ada"], "grace": expected["grace"]}
        assert {e.directory: e.size_bytes for e in figures.sizes} == expected
        assert figures.summary.total_bytes == sum(expected.values())
        assert figures.summary.directories == 3
        assert figures.summary.median_bytes == expected["ada"]
        assert figures.largest(1)[0].directory == "grace"
        assert figures.measured_at >= before - timedelta(seconds=1)
        first_measured = figures.measured_at

        # Prometheus stopped: the last figures stay, with their time
        prom.stop()
        state = await poller.read_once()
        assert state.problem is not None and state.problem.kind == UNREACHABLE
        assert state.problem.message() == "Prometheus is unreachable (connection refused)"
        assert state.figures == figures and state.figures.measured_at == first_measured

        # started again, with ada's home grown and the exporter measuring anew
        write_file(homes / "ada" / "more.bin", 4_000)
        expected["ada"] = exporter_size(homes / "ada")
        exporter.stop()
        exporter.start(expected)
        prom.start()
        prom.wait_for_query(
            f'dirsize_total_size_bytes{{directory="ada"}} == {expected["ada"]}', timeout=60
        )
        state = await poller.read_once()
        assert state.current and state.figures is not None
        assert state.figures.by_user()["ada"] == expected["ada"]
        assert state.figures.summary.total_bytes == sum(expected.values())
        assert state.figures.measured_at > first_measured
        poller.reader.close()
    finally:
        prom.stop()


# -- cost -----------------------------------------------------------------------------------


def hourly(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


def cost_samples(month: int) -> tuple[str, float, dict[str, float]]:
    """OpenMetrics text of two nodes' hourly cost around *month*, and the month's expected
    total and per-team amounts.

    Node n1 (team physics) runs all along at 0.5 $/h in the month and at 100 $/h outside
    it (any sample outside the window would show); node n2 (team biology) runs at 1.25 $/h
    from the 10th to the 20th only.
    """
    start, end = month_bounds(month)
    lines = ["# TYPE node_total_hourly_cost gauge"]
    for moment in hourly(start - timedelta(days=3), end + timedelta(days=3)):
        rate = 0.5 if start <= moment < end else 100.0
        lines.append(
            f'node_total_hourly_cost{{node="n1",team="physics"}} {rate} {int(moment.timestamp())}'
        )
    n2_start, n2_end = start + timedelta(days=9), start + timedelta(days=19)
    for moment in hourly(n2_start, n2_end):
        lines.append(
            f'node_total_hourly_cost{{node="n2",team="biology"}} 1.25 {int(moment.timestamp())}'
        )
    lines.append("# EOF")
    hours = (end - start) / timedelta(hours=1)
    groups = {"physics": hours * 0.5, "biology": 240 * 1.25}
    return "\n".join(lines) + "\n", sum(groups.values()), groups


async def test_a_months_cost_from_recorded_samples(promtool, prometheus_binary, tmp_path):
    month = add_months(month_of(utcnow()), -2)
    text, total, groups = cost_samples(month)
    samples = tmp_path / "cost.om"
    samples.write_text(text)
    workdir = tmp_path / "prometheus"
    (workdir / "tsdb").mkdir(parents=True)
    created = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(samples),
            str(workdir / "tsdb"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    prom = PrometheusServer(
        workdir, [], rule_files=(), binary=prometheus_binary, extra_args=RETENTION
    )
    prom.start()
    try:
        label = month_label(month)
        # a timeout of a fraction of a second more: Prometheus takes it as the query's own
        reader = PrometheusReader(prom.url, timeout=12.5, retry_policy=NO_RETRY)
        totals = CostReader(
            prometheus=reader,
            query="sum(sum_over_time(sum(node_total_hourly_cost)[$__range:1h]))",
        )
        figures = await totals.month_cost(label)
        assert (figures.month, figures.amount, figures.source) == (label, total, "prometheus")
        assert figures.groups == ()

        by_team = CostReader(
            prometheus=PrometheusReader(prom.url, retry_policy=NO_RETRY),
            query="sum by (team) (sum_over_time(node_total_hourly_cost[$__range:1h]))",
            group_label="team",
            currency="EUR",
        )
        figures = await by_team.month_cost(label)
        assert figures.amount == total and figures.currency == "EUR"
        assert {g.group: g.amount for g in figures.groups} == groups

        # a month without samples is not available, never 0
        empty = await by_team.month_cost(month_label(add_months(month, -3)))
        assert empty.amount is None and empty.problem is None
        totals.close()
        by_team.close()
    finally:
        prom.stop()


# -- hub configuration ----------------------------------------------------------------------

INFO_TOKEN = "info-reader-token-0123456789abcdef"
PLAIN_TOKEN = "plain-reader-token-0123456789abcdef"
HUB_CONFIG = f"""
c.JupyterHub.services.append({{"name": "info-reader", "api_token": {INFO_TOKEN!r}}})
c.JupyterHub.services.append({{"name": "plain-reader", "api_token": {PLAIN_TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "info-reader", "scopes": ["read:hub"], "services": ["info-reader"]}}
)
"""


async def test_the_hubs_configuration_with_and_without_read_hub(tmp_path):
    import jupyterhub

    with running_hub(tmp_path, hub_config=HUB_CONFIG) as hub:
        api = f"{hub.url}/hub/api"
        with_scope = HubClient(api, INFO_TOKEN, retries=0)
        configuration = await read_hub_configuration(with_scope, ["gpu", "none", "other"])
        assert configuration.version == jupyterhub.__version__
        assert configuration.info is not None and configuration.info_problem is None
        assert configuration.info.spawner is not None
        assert configuration.info.spawner.name == "jupyterhub.spawner.SimpleLocalProcessSpawner"
        assert configuration.info.authenticator is not None
        assert configuration.info.authenticator.name == "jupyterhub.auth.DummyAuthenticator"
        assert configuration.info.authenticator.version == jupyterhub.__version__
        assert configuration.info.python == sys.version.split()[0]
        assert configuration.profiles_seen == ("gpu",)

        without = HubClient(api, PLAIN_TOKEN, retries=0)
        configuration = await read_hub_configuration(without)
        assert configuration.version == jupyterhub.__version__
        assert configuration.info is None
        assert configuration.info_problem == "the service's role lacks the read:hub scope"
        with_scope.close()
        without.close()
