"""The check-in figures in the status document and the monthly report: the `storage` and
`cost` sections (written, read back, valid, readable from a version 2 document), the cost
line beside the fee ("not available", never 0; no total across currencies), the sizes as
text, and the report's section in HTML and PDF (#22)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from harness.statusschema import assert_valid_status
from test_status_contract import make_model, over_the_wire

from jupyterhub_onboarding.core.checkin import CostLine, cost_line, hub_data, storage_data
from jupyterhub_onboarding.core.cost import CostFigures
from jupyterhub_onboarding.core.format import size
from jupyterhub_onboarding.core.hubinfo import ClassInfo, HubConfiguration, HubInfo
from jupyterhub_onboarding.core.monthly import build_report
from jupyterhub_onboarding.core.reportdata import report_data
from jupyterhub_onboarding.core.sources import UNREACHABLE, SourceProblem
from jupyterhub_onboarding.core.status.model import Cost
from jupyterhub_onboarding.core.status.read import StatusError, read_status
from jupyterhub_onboarding.core.status.write import cost_section, storage_section, to_json
from jupyterhub_onboarding.core.storage import (
    DirectorySize,
    StorageState,
    storage_figures,
)

UTC = timezone.utc
MEASURED = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
FAILED = datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
SIZES = (
    DirectorySize("ada", 2_000_000_000, "ada"),
    DirectorySize("grace", 50_000_000, "grace"),
    DirectorySize("linus", 300_000_000, "linus"),
)


def measured_state(problem: SourceProblem | None = None) -> StorageState:
    figures = storage_figures(SIZES, MEASURED)
    return StorageState(figures, problem, FAILED if problem else MEASURED)


def with_checkin(cost: CostFigures | None = None, state: StorageState | None = None):
    model = make_model()
    return replace(
        model,
        storage=storage_section(state or measured_state(), configured=True),
        cost=cost_section(cost, month="2026-11", currency="USD", source="prometheus"),
    )


# -- the status document ------------------------------------------------------------------------


def test_storage_and_cost_sections_are_written_read_back_and_valid():
    cost = CostFigures("2026-11", 1234.5, "USD", "prometheus")
    model = with_checkin(cost)
    document = over_the_wire(model)
    assert_valid_status(document)
    assert read_status(document) == model
    storage = document["storage"]
    assert storage == {
        "configured": True,
        "measured_at": "2026-11-20T11:00:00Z",
        "total_bytes": 2_350_000_000,
        "directories": 3,
        "median_bytes": 300_000_000.0,
        "p90_bytes": 1_660_000_000.0,
        "distribution": {
            "under_100mb": 1,
            "100mb_1gb": 1,
            "1gb_10gb": 1,
            "10gb_100gb": 0,
            "over_100gb": 0,
        },
        "problem": None,
    }
    assert document["cost"] == {
        "month": "2026-11",
        "amount": 1234.5,
        "currency": "USD",
        "source": "prometheus",
        "problem": None,
    }
    text = json.dumps(document)
    for name in ("ada", "grace", "linus"):
        assert name not in text


def test_a_failed_read_keeps_the_figures_with_their_time_and_says_why():
    problem = SourceProblem("Prometheus", UNREACHABLE, "connection refused", FAILED)
    document = over_the_wire(with_checkin(state=measured_state(problem)))
    assert_valid_status(document)
    assert document["storage"]["total_bytes"] == 2_350_000_000
    assert document["storage"]["measured_at"] == "2026-11-20T11:00:00Z"
    assert document["storage"]["problem"] == "Prometheus is unreachable (connection refused)"


def test_without_sources_storage_is_unconfigured_and_cost_not_available_never_zero():
    document = over_the_wire(make_model())
    assert_valid_status(document)
    assert document["storage"]["configured"] is False
    assert document["storage"]["total_bytes"] is None
    assert document["storage"]["distribution"] == {}
    assert document["cost"]["amount"] is None
    assert document["cost"]["source"] == "none"
    # a configured source not read yet says so
    pending = cost_section(None, month="2026-11", currency="EUR", source="url")
    assert (pending.amount, pending.source, pending.problem) == (None, "url", "not read yet")


def test_a_version_2_document_without_the_sections_reads_and_a_version_3_one_needs_them():
    document = over_the_wire(make_model())
    older = {k: v for k, v in document.items() if k not in ("storage", "cost")}
    model = read_status({**older, "schema_version": 2})
    assert model.storage is None and model.cost is None
    with pytest.raises(StatusError, match="missing storage"):
        read_status(older)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", float("inf"), "cost.amount is not a number"),
        ("amount", "12", "cost.amount is not a number"),
        ("source", "guess", "cost.source is not one of prometheus, url, none"),
        ("month", "2026-13", "cost.month is not a YYYY-MM month"),
    ],
)
def test_a_bad_cost_section_is_refused_by_name(field, value, message):
    document = over_the_wire(with_checkin(CostFigures("2026-11", 5.0, "USD", "prometheus")))
    document["cost"][field] = value
    with pytest.raises(StatusError, match=message):
        read_status(document)


def test_a_credit_is_a_negative_amount():
    document = over_the_wire(with_checkin(CostFigures("2026-11", -20.0, "USD", "url")))
    assert read_status(document).cost.amount == -20.0  # type: ignore[union-attr]


# -- the cost line ------------------------------------------------------------------------------


def test_the_cost_line_adds_cost_to_the_fee_in_one_currency_only():
    cost = Cost("2026-11", 1234.5, "USD", "prometheus", None)
    line = cost_line(cost, "2026-11", 300.0, "USD")
    assert line.estimated_total == 1534.5
    data = line.data()
    assert (data["amount"], data["usage_fee"], data["estimated_total"]) == (
        "$1,234.50",
        "$300.00",
        "$1,534.50",
    )
    other = cost_line(replace(cost, currency="EUR"), "2026-11", 300.0, "USD")
    assert other.estimated_total is None
    assert other.data()["estimated_total"] == "not available"
    assert other.why_no_total == "the cloud cost is in EUR, the usage fee in USD"


def test_a_month_without_a_figure_is_not_available_never_zero():
    for line in (
        cost_line(None, "2026-11", 300.0, "USD"),
        cost_line(Cost("2026-10", 5.0, "USD", "url", None), "2026-11", 300.0, "USD"),
        cost_line(Cost("2026-11", None, "USD", "url", "HTTP 500"), "2026-11", 300.0, "USD"),
    ):
        assert isinstance(line, CostLine) and not line.available
        data = line.data()
        assert data["amount"] == "not available" == data["estimated_total"]
        assert "0.00" not in data["amount"]
    zero = cost_line(Cost("2026-11", 0.0, "USD", "url", None), "2026-11", 300.0, "USD")
    assert zero.data()["amount"] == "$0.00" and zero.estimated_total == 300.0


# -- sizes, storage and hub configuration as text -----------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1_000, "1.00 kB"),
        (13_441, "13.4 kB"),
        (52_100_000, "52.1 MB"),
        (999_999_999, "1.00 GB"),
        (2_350_000_000, "2.35 GB"),
        (10**18, "1000 PB"),
    ],
)
def test_sizes_in_decimal_units(value, text):
    assert size(value) == text


def test_storage_as_text_names_no_one():
    storage = storage_section(measured_state(), configured=True)
    data = storage_data(storage)
    assert data is not None
    assert (data["total"], data["directories"], data["median"], data["p90"]) == (
        "2.35 GB",
        "3",
        "300 MB",
        "1.66 GB",
    )
    assert [b["count"] for b in data["distribution"]] == [1, 1, 1, 0, 0]
    assert storage_data(storage_section(None, configured=False)) is None
    never = storage_data(storage_section(StorageState(), configured=True))
    assert never is not None and not never["measured"] and never["total"] == "not available"


def test_hub_configuration_rows_leave_out_what_the_service_may_not_read():
    full = HubConfiguration(
        "5.2.1",
        HubInfo(
            "3.12.3",
            ClassInfo("jupyterhub.auth.DummyAuthenticator", "5.2.1"),
            ClassInfo("kubespawner.spawner.KubeSpawner", None),
        ),
        None,
        ("small", "gpu"),
    )
    assert hub_data(full) == {
        "rows": [
            {"setting": "JupyterHub version", "value": "5.2.1"},
            {"setting": "Python version", "value": "3.12.3"},
            {
                "setting": "Authenticator",
                "value": "DummyAuthenticator 5.2.1 (jupyterhub.auth.DummyAuthenticator)",
            },
            {"setting": "Spawner", "value": "KubeSpawner (kubespawner.spawner.KubeSpawner)"},
            {"setting": "Profiles used", "value": "small, gpu"},
        ],
        "left_out": None,
    }
    reason = "the service's role lacks the read:hub scope"
    limited = hub_data(HubConfiguration("5.2.1", None, reason))
    assert limited == {
        "rows": [{"setting": "JupyterHub version", "value": "5.2.1"}],
        "left_out": reason,
    }
    assert hub_data(None) is None


# -- the monthly report -------------------------------------------------------------------------


def test_the_report_has_the_cost_beside_the_fee_and_the_storage():
    model = with_checkin(CostFigures("2026-11", 1234.5, "USD", "prometheus"))
    report = build_report(read_status(over_the_wire(model)), "2026-11", hub_name="hub")
    data = report_data(report)["checkin"]
    assert data["cost"]["amount"] == "$1,234.50"
    assert data["cost"]["usage_fee"] == report.money(report.fee_total)
    assert data["cost"]["estimated_total"] == report.money(report.fee_total + 1234.5)
    assert data["storage"]["total"] == "2.35 GB"
    # the month before: the document holds no cost of it
    before = report_data(build_report(model, "2026-10", hub_name="hub"))["checkin"]
    assert before["cost"]["amount"] == "not available"
    assert json.loads(json.dumps(to_json(model)))["cost"]["month"] == "2026-11"


# -- the collector's columns --------------------------------------------------------------------


def test_the_collectors_row_has_cost_total_and_storage_and_never_a_zero_for_a_missing_cost():
    from jupyterhub_onboarding.collector.rows import status_row
    from jupyterhub_onboarding.collector.writers import to_csv

    model = read_status(
        over_the_wire(with_checkin(CostFigures("2026-11", 1234.5, "USD", "prometheus")))
    )
    row = status_row("alpha", "https://hub.example.org", model)
    assert (row.cloud_cost, row.cloud_cost_currency) == (1234.5, "USD")
    assert row.estimated_usage_fee is not None
    assert row.estimated_total == row.estimated_usage_fee + 1234.5
    assert row.home_storage_bytes == 2_350_000_000
    assert row.home_storage_measured_at == "2026-11-20T11:00:00Z"
    # another month: the document has no cost of it
    october = status_row("alpha", "https://hub.example.org", model, month="2026-10")
    assert october.cloud_cost is None and october.estimated_total is None
    # no source: empty cells, not 0
    bare = status_row("beta", "https://b.example.org", read_status(over_the_wire(make_model())))
    assert bare.cloud_cost is None and bare.estimated_total is None
    assert bare.home_storage_bytes is None and bare.home_storage_measured_at is None
    full, cells = csv.DictReader(io.StringIO(to_csv([row, bare])))
    assert cells["cloud_cost"] == "" and cells["estimated_total"] == ""
    assert full["cloud_cost"] == "1234.5" and full["home_storage_bytes"] == "2350000000"


def test_a_report_without_a_cost_source_has_no_cost_section():
    """Sent to a customer, a report names no setting: without a cost source the fee section's
    note (cloud costs pass through apart) is all it says of cloud cost."""
    from jupyterhub_onboarding.collector.files import hub_html

    with_cost = with_checkin(CostFigures("2026-11", 1234.5, "USD", "prometheus"))
    html = hub_html(build_report(with_cost, "2026-11", hub_name="hub"))
    assert "Cloud cost and estimated total" in html
    without = replace(
        with_cost, cost=cost_section(None, month="2026-11", currency="USD", source="none")
    )
    html = hub_html(build_report(without, "2026-11", hub_name="hub"))
    assert "Cloud cost and estimated total" not in html and "Onboarding.cost_" not in html
    assert "Cloud costs pass through without markup" in html
