"""The graduated usage fee: worked examples, boundaries and properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.fees import DEFAULT_TIERS, fee_breakdown, usage_fee, validate_tiers


@pytest.mark.parametrize(
    ("users", "fee"),
    [
        (0, 0.0),
        (1, 10.0),
        (10, 100.0),
        (11, 105.0),
        (100, 550.0),
        (101, 552.5),
        (280, 1000.0),  # the worked example of the billing definition
        (1000, 2800.0),
        (1001, 2801.25),
        (10000, 14050.0),
        (10001, 14050.0),
        (250000, 14050.0),
    ],
)
def test_fee_at_tier_boundaries(users, fee):
    assert usage_fee(users) == fee


def test_breakdown_works_every_tier_through():
    lines = fee_breakdown(280)
    assert [(line.label, line.users, line.subtotal) for line in lines] == [
        ("1-10", 10, 100.0),
        ("11-100", 90, 450.0),
        ("101-1,000", 180, 450.0),
        ("1,001-10,000", 0, 0.0),
        ("10,001+", 0, 0.0),
    ]


def test_custom_tiers():
    tiers = validate_tiers([[5, 2], [None, 1]])
    assert usage_fee(8, tiers) == 13.0


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [[10, 1]],
        [[None, 1], [10, 1]],
        [[10, 1], [5, 1], [None, 0]],
        [[10, -1], [None, 0]],
        [[10, "x"], [None, 0]],
        [[True, 1], [None, 0]],
        [[10], [None, 0]],
    ],
)
def test_invalid_tiers_are_refused_with_a_reason(tiers):
    with pytest.raises(ValueError, match=r"tier|last"):
        validate_tiers(tiers)


def test_negative_users_refused():
    with pytest.raises(ValueError):
        usage_fee(-1)


@given(st.integers(min_value=0, max_value=200_000))
def test_fee_grows_by_the_marginal_price(users):
    before, after = usage_fee(users), usage_fee(users + 1)
    bound_prices = [(b if b is not None else float("inf"), p) for b, p in DEFAULT_TIERS]
    marginal = next(price for bound, price in bound_prices if users + 1 <= bound)
    assert after - before == pytest.approx(marginal)


@given(st.integers(min_value=0, max_value=200_000))
def test_breakdown_sums_to_users_and_fee(users):
    lines = fee_breakdown(users)
    assert sum(line.users for line in lines) == users
    assert round(sum(line.subtotal for line in lines), 2) == usage_fee(users)
