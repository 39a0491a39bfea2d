"""A month's cloud cost: the PromQL month window, the series' sum, the endpoint's document."""

import math
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.cost import (
    SOURCE_PROMETHEUS,
    SOURCE_URL,
    CostFigures,
    GroupCost,
    InvalidCostDocument,
    check_cost_query,
    cost_from_series,
    cost_promql,
    evaluation_time,
    month_length,
    parse_cost_document,
)

UTC = timezone.utc


def test_the_month_window():
    assert month_length("2026-02").days == 28
    assert month_length("2028-02").days == 29
    assert cost_promql("sum(increase(cost_total[$__range]))", "2026-11") == (
        "sum(increase(cost_total[2592000s]))"
    )
    assert cost_promql("x[$__range:1h] + y[$__range]", "2026-12") == "x[2678400s:1h] + y[2678400s]"
    assert evaluation_time("2026-12") == datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM"):
        evaluation_time("2026-13")


def test_a_cost_query_must_hold_the_months_range():
    assert check_cost_query("  ") == ""
    assert check_cost_query(" sum(x[$__range]) ") == "sum(x[$__range])"
    with pytest.raises(ValueError, match=r"must hold \$__range"):
        check_cost_query("sum(node_total_hourly_cost)")


def test_cost_from_series_sums_series_and_groups():
    figures = cost_from_series(
        "2026-11", [("physics", 10.25), ("biology", 30.0), ("physics", 5.0), (None, 1.0)], "EUR"
    )
    assert figures == CostFigures(
        "2026-11",
        46.25,
        "EUR",
        SOURCE_PROMETHEUS,
        (GroupCost("biology", 30.0), GroupCost("physics", 15.25)),
    )


def test_no_series_is_not_available_never_zero():
    figures = cost_from_series("2026-11", [], "USD")
    assert figures.amount is None and not figures.available
    # a real zero is a figure
    assert cost_from_series("2026-11", [(None, 0.0)], "USD").amount == 0.0


def test_a_value_that_is_no_amount_is_refused():
    with pytest.raises(ValueError, match="no amount"):
        cost_from_series("2026-11", [(None, math.nan)], "USD")


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=800))
def test_sums_of_many_hourly_cents_are_exact_to_the_cent(cents):
    figures = cost_from_series("2026-11", [(None, cent / 100) for cent in cents], "USD")
    assert figures.amount == sum(cents) / 100


def document(**fields):
    return {"month": "2026-11", "amount": 1234.5, "currency": "USD", **fields}


def test_the_endpoints_document():
    figures = parse_cost_document(
        document(groups=[{"group": "physics", "amount": 200}, {"group": "bio", "amount": 300}]),
        "2026-11",
        "EUR",
    )
    assert figures == CostFigures(
        "2026-11",
        1234.5,
        "USD",
        SOURCE_URL,
        (GroupCost("bio", 300.0), GroupCost("physics", 200.0)),
    )
    # the configured currency when the document names none
    bare = parse_cost_document({"month": "2026-11", "amount": 5}, "2026-11", "EUR")
    assert (bare.amount, bare.currency, bare.groups) == (5.0, "EUR", ())


def test_a_null_amount_is_not_available():
    figures = parse_cost_document(document(amount=None, groups=[]), "2026-11", "USD")
    assert figures.amount is None and figures.source == SOURCE_URL and figures.problem is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected a JSON object"),
        (document(month="2026-10"), "asked for month 2026-11"),
        (document(month=None), "asked for month 2026-11"),
        (document(amount="12"), "amount must be a finite number"),
        (document(amount=True), "amount must be a finite number"),
        (document(amount=float("inf")), "amount must be a finite number"),
        (document(currency="dollars"), "three-letter code"),
        (document(groups={"a": 1}), "groups must be a list"),
        (document(groups=["a"]), r"groups\[0\] must be an object"),
        (document(groups=[{"group": "", "amount": 1}]), r"groups\[0\].group"),
        (document(groups=[{"group": "x" * 256, "amount": 1}]), r"groups\[0\].group"),
        (document(groups=[{"group": "a", "amount": None}]), r"groups\[0\].amount"),
    ],
)
def test_documents_of_another_shape_are_refused(body, message):
    with pytest.raises(InvalidCostDocument, match=message):
        parse_cost_document(body, "2026-11", "USD")


def test_a_hostile_month_is_not_echoed_back():
    with pytest.raises(InvalidCostDocument) as raised:
        parse_cost_document(document(month="<script>" + "x" * 100), "2026-11", "USD")
    assert "<script>" not in str(raised.value)


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5) | st.just("2026-11"),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["month", "amount", "currency", "groups", "group"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_is_a_figure_or_a_clear_refusal(body):
    try:
        figures = parse_cost_document(body, "2026-11", "USD")
    except InvalidCostDocument as error:
        assert str(error)
        return
    assert figures.month == "2026-11"
    assert figures.amount is None or math.isfinite(figures.amount)
    assert all(math.isfinite(group.amount) for group in figures.groups)
