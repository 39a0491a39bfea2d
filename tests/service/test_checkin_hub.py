"""The check-in sources wired into the running service, in a real hub (#22).

- Storage: the real ``prometheus-dirsize-exporter`` over real directories of known sizes,
  scraped by a real Prometheus, read by the service every ``storage_interval``: the status
  API's ``storage`` section, the storage page (per user, largest, distribution) and the
  metrics exact; Prometheus stopped: the last figures stay with their time and the page and
  the status say the source is unreachable; started again: the figures move.
- Cost: a real Prometheus holding recorded hourly cost samples; the monthly report (HTML
  and PDF) shows the month's cloud cost beside the usage fee and the estimated total, a
  month without samples "not available"; the hub's configuration with ``read:hub``.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from harness.browser import CHROMIUM, CHROMIUM_ARGS
from harness.components import require_binary
from harness.hub import PASSWORD, running_hub
from harness.process import wait_until
from harness.prometheus import PrometheusServer, ScrapeTarget
from prometheus_client.parser import text_string_to_metric_families
from test_sources_real import (
    RETENTION,
    DirsizeExporter,
    cost_samples,
    exporter_size,
    prometheus_binary,  # noqa: F401 - a fixture
    promtool,  # noqa: F401 - a fixture
    write_file,
)

from jupyterhub_onboarding.core.clock import parse_iso, utcnow
from jupyterhub_onboarding.core.format import size
from jupyterhub_onboarding.core.rules import add_months, month_label, month_of

pytestmark = pytest.mark.integration

METRICS_TOKEN = "metrics-reader-token-0123456789abcdef"
HUB_CONFIG = f"""
c.JupyterHub.load_roles[0]["scopes"].append("read:hub")
c.JupyterHub.services.append({{"name": "metrics-reader", "api_token": {METRICS_TOKEN!r}}})
c.JupyterHub.load_roles.append(
    {{"name": "metrics-reader", "scopes": ["access:services!service=onboarding"],
      "services": ["metrics-reader"]}}
)
"""


def storage_config(prom_url: str) -> str:
    return f"""
c.Onboarding.prometheus_url = {prom_url!r}
c.Onboarding.home_storage_query = "dirsize_total_size_bytes"
c.Onboarding.storage_interval = 1
c.Onboarding.prometheus_timeout = 5
"""


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    parent = tmp_path / "homes"
    write_file(parent / "ada" / "notebook.ipynb", 1_000)
    write_file(parent / "ada" / "data" / "table.csv", 12_345)
    write_file(parent / "grace" / "big.bin", 1_048_576)
    write_file(parent / "<i>x" / "x", 5)
    return parent


def storage_of(hub) -> dict:
    return hub.status()["storage"]


def home_storage_metric(hub) -> float | None:
    text = httpx.get(
        f"{hub.service_url}metrics",
        headers={"Authorization": f"token {METRICS_TOKEN}"},
        timeout=10,
    ).text
    for family in text_string_to_metric_families(text):
        if family.name == "jupyterhub_onboarding_home_storage_bytes":
            return family.samples[0].value
    return None


def test_storage_in_the_service_survives_prometheus_going_away(
    homes,
    tmp_path,
    prometheus_binary,  # noqa: F811
):
    expected = {path.name: exporter_size(path) for path in homes.iterdir()}
    exporter = DirsizeExporter(homes, tmp_path / "dirsize.log")
    exporter.start(expected)
    prom = PrometheusServer(
        tmp_path / "prometheus",
        [ScrapeTarget("dirsize", f"127.0.0.1:{exporter.port}")],
        rule_files=(),
        binary=prometheus_binary,
    )
    try:
        prom.start()
        prom.wait_for_query("count(dirsize_total_size_bytes) == 3")
        total = sum(expected.values())
        with running_hub(
            tmp_path / "hub", hub_config=HUB_CONFIG, service_config=storage_config(prom.url)
        ) as hub:
            for name in ("ada", "grace"):  # hub users own their homes; <i>x is no one's
                hub.login(name).close()
            hub.wait_for_status(lambda s: s["mau"]["login"] == 2)
            storage = hub.wait_for_status(
                lambda s: s["storage"]["total_bytes"] == total and s["storage"]
            )["storage"]
            assert storage["configured"] is True and storage["problem"] is None
            assert storage["directories"] == 3
            assert storage["median_bytes"] == expected["ada"]
            assert storage["distribution"]["under_100mb"] == 3
            status_text = httpx.get(
                f"{hub.service_url}api/v1/status",
                headers={"Authorization": f"token {hub.status_token}"},
            ).text
            assert "grace" not in status_text and "ada" not in status_text
            assert home_storage_metric(hub) == total

            with closing(hub.login("admin")) as admin:

                def owners_known() -> httpx.Response | None:
                    # a read after the polls saw ada and grace: they own their homes, and
                    # <i>x is no one's (before the first poll every name was taken as its owner)
                    page = admin.get(f"{hub.service_url}storage")
                    assert page.status_code == 200, page.text[:500]
                    text = page.text
                    owned = all(
                        f"<td>{name}</td><td>{name}</td>" in text for name in ("ada", "grace")
                    )
                    return page if owned and "<td>&lt;i&gt;x</td><td>unknown</td>" in text else None

                page = wait_until(owners_known, 30, "the home directories' owners")
                assert f'data-bytes="{expected["grace"]}">{size(expected["grace"])}' in page.text
                assert f'data-bytes="{expected["ada"]}">{size(expected["ada"])}' in page.text
                assert "<i>x" not in page.text
                assert 'id="storage-problem"' not in page.text
                by_name = admin.get(f"{hub.service_url}storage?sort=directory&order=asc").text
                assert by_name.index("<td>ada</td>") < by_name.index("<td>grace</td>")
                by_size = admin.get(f"{hub.service_url}storage").text
                assert by_size.index("<td>grace</td>") < by_size.index("<td>ada</td>")
                assert admin.get(f"{hub.service_url}storage?sort=x").status_code == 400
                landing = admin.get(hub.service_url).text
                assert 'id="storage-summary"' in landing and size(total) in landing
                # the per-user table and its CSV give each user's home directory size
                usage = admin.get(f"{hub.service_url}usage").text
                assert f'<td class="text-end usage-home">{size(expected["ada"])}</td>' in usage
                month = hub.status()["mau"]["month"]
                table = admin.get(f"{hub.service_url}usage.csv", params={"month": month}).text
                listed = {
                    r["name"]: r["home_directory_bytes"] for r in csv.DictReader(io.StringIO(table))
                }
                assert listed["ada"] == str(expected["ada"])
                assert listed["grace"] == str(expected["grace"])
            with closing(hub.login("ada")) as user:  # not an admin: no one's sizes
                assert user.get(f"{hub.service_url}storage").status_code == 403

            # Prometheus stopped: the figures stay with their time, the source is named
            measured_at = storage["measured_at"]
            stopped_at = utcnow()
            prom.stop()
            failed = hub.wait_for_status(lambda s: s["storage"]["problem"] and s["storage"])[
                "storage"
            ]
            assert failed["problem"].startswith("Prometheus is unreachable")
            assert failed["total_bytes"] == total
            # the last read before the stop (reads go on every second until then)
            assert parse_iso(measured_at) <= parse_iso(failed["measured_at"]) <= stopped_at
            assert home_storage_metric(hub) == total
            with closing(hub.login("admin")) as admin:
                page = admin.get(f"{hub.service_url}storage").text
                assert 'id="storage-problem"' in page
                assert "Prometheus is unreachable" in page
                assert size(expected["grace"]) in page
            later = storage_of(hub)  # reads kept failing meanwhile: the figures stayed
            assert later["problem"] and later["measured_at"] == failed["measured_at"]
            assert later["total_bytes"] == total

            # started again, ada's home grown: the figures move
            write_file(homes / "ada" / "more.bin", 4_000)
            expected["ada"] = exporter_size(homes / "ada")
            exporter.stop()
            exporter.start(expected)
            prom.start()
            grown = sum(expected.values())
            moved = hub.wait_for_status(
                lambda s: s["storage"]["total_bytes"] == grown and s["storage"], timeout=90
            )["storage"]
            assert moved["problem"] is None
            assert parse_iso(moved["measured_at"]) > parse_iso(failed["measured_at"])
    finally:
        prom.stop()
        exporter.stop()


def cost_prometheus(tmp_path: Path, promtool: str, binary: str, month: int):  # noqa: F811
    text, total, _groups = cost_samples(month)
    samples = tmp_path / "cost.om"
    samples.write_text(text)
    workdir = tmp_path / "prometheus"
    (workdir / "tsdb").mkdir(parents=True)
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(samples),
            str(workdir / "tsdb"),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return PrometheusServer(workdir, [], rule_files=(), binary=binary, extra_args=RETENTION), total


def pdf_text(content: bytes, path: Path) -> str:
    path.write_bytes(content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs Debian's poppler-utils")
def test_the_report_has_the_months_cloud_cost_beside_the_fee_and_the_hub_configuration(
    tmp_path,
    promtool,  # noqa: F811
    prometheus_binary,  # noqa: F811
):
    import jupyterhub

    month = add_months(month_of(utcnow()), -2)
    prom, total = cost_prometheus(tmp_path, promtool, prometheus_binary, month)
    prom.start()
    try:
        # live since that month: a month before going live has no report
        config = f"""
c.Onboarding.live_since = "{month_label(month)}-01"
c.Onboarding.prometheus_url = {prom.url!r}
c.Onboarding.cost_query = "sum(sum_over_time(sum(node_total_hourly_cost)[$__range:1h]))"
"""
        with running_hub(tmp_path / "hub", hub_config=HUB_CONFIG, service_config=config) as hub:
            hub.login("ada").close()
            status = hub.wait_for_status(lambda s: s["mau"]["login"] >= 1)
            # the current month has no samples: not available, never 0
            cost = hub.wait_for_status(lambda s: s["cost"]["problem"] != "not read yet")["cost"]
            assert cost["amount"] is None and cost["source"] == "prometheus"
            assert cost["month"] == status["mau"]["month"]
            amount = f"${total:,.2f}"
            with closing(hub.login("admin")) as admin:
                html = admin.get(f"{hub.service_url}report/{month_label(month)}")
                assert html.status_code == 200, html.text[:500]
                assert f'id="report-cloud-cost">{amount}<' in html.text
                # no users in that month: a fee of $0.00, the total is the cost
                assert f'id="report-estimated-total"><strong>{amount}<' in html.text
                assert "DummyAuthenticator" in html.text
                assert f"<td>{jupyterhub.__version__}</td>" in html.text
                pdf = admin.get(f"{hub.service_url}report/{month_label(month)}.pdf")
                assert pdf.status_code == 200
                flat = pdf_text(pdf.content, tmp_path / "report.pdf")
                assert f"Cloud cost, passed through without markup {amount}" in flat
                assert f"Estimated total {amount}" in flat
                assert "SimpleLocalProcessSpawner" in flat
                # the current month has no samples: not available, and no total
                landing = admin.get(hub.service_url).text
                assert 'id="cloud-cost">not available<' in landing
    finally:
        prom.stop()


def test_screenshots_of_the_storage_page_and_the_cost_beside_the_fee(
    homes,
    tmp_path,
    prometheus_binary,  # noqa: F811
    artifacts,
):
    chromium = require_binary(CHROMIUM, "chromium")
    from playwright.sync_api import sync_playwright

    expected = {path.name: exporter_size(path) for path in homes.iterdir()}
    exporter = DirsizeExporter(homes, tmp_path / "dirsize.log")
    exporter.start(expected)
    prom = PrometheusServer(
        tmp_path / "prometheus",
        [ScrapeTarget("dirsize", f"127.0.0.1:{exporter.port}")],
        rule_files=(),
        binary=prometheus_binary,
    )
    try:
        prom.start()
        prom.wait_for_query("count(dirsize_total_size_bytes) == 3")
        with running_hub(
            tmp_path / "hub", hub_config=HUB_CONFIG, service_config=storage_config(prom.url)
        ) as hub:
            for name in ("ada", "grace"):
                hub.login(name).close()
            hub.wait_for_status(lambda s: s["storage"]["total_bytes"] == sum(expected.values()))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                problems: list[str] = []
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.goto(f"{hub.service_url}storage")
                page.wait_for_url("**/hub/login**")
                page.fill("#username_input", "admin")
                page.fill("#password_input", PASSWORD)
                page.click("#login_submit")
                page.wait_for_url(f"{hub.service_url}storage")
                assert page.locator("#storage-total").inner_text() == size(sum(expected.values()))
                assert page.locator("#storage-users tbody tr").count() == 3

                def owners_shown() -> bool:
                    page.reload()
                    rows = page.locator("#storage-users tbody tr").all_inner_texts()
                    cells = [row.split("\t") for row in rows]
                    return sum(1 for row in cells if row[0] == row[1]) == 2

                wait_until(owners_shown, 30, "the owners on the storage page")
                page.screenshot(path=str(artifacts / "checkin-storage.png"), full_page=True)
                page.click("#storage-users thead a:text('Directory')")
                page.wait_for_url("**sort=directory**")
                first = page.locator("#storage-users tbody tr").first.inner_text()
                assert first.startswith("<i>x")
                page.goto(hub.service_url)
                # no cost source: no table of figures that are not available
                assert page.locator("#cloud-cost-table").count() == 0
                assert page.locator("#storage-summary").count() == 1
                card = page.locator("#storage-summary").locator("xpath=ancestor::div[1]")
                card.screenshot(path=str(artifacts / "checkin-landing-fee.png"))
                assert problems == []
                browser.close()
    finally:
        prom.stop()
        exporter.stop()
