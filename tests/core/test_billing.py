"""Closing dates, activity days and the keyed pseudonyms (#21)."""

import hashlib
import hmac
from datetime import date, datetime, timezone

import pytest

from jupyterhub_onboarding.core.billing import (
    BillingLine,
    BillingList,
    billing_document,
    closes_at,
    day_range,
    is_due,
    key_check,
    normalise_username,
    pseudonym,
)

UTC = timezone.utc


def test_a_month_closes_close_days_after_its_end_in_utc():
    assert closes_at(202612, 3) == datetime(2027, 1, 4, tzinfo=UTC)
    assert closes_at(202602, 0) == datetime(2026, 3, 1, tzinfo=UTC)
    assert not is_due(202611, datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC), 3)
    assert is_due(202611, datetime(2026, 12, 4, tzinfo=UTC), 3)


def test_the_first_and_last_active_day_of_a_month():
    assert day_range(0, 202611) is None
    assert day_range(1, 202611) == (date(2026, 11, 1), date(2026, 11, 1))
    assert day_range((1 << 4) | (1 << 29), 202611) == (date(2026, 11, 5), date(2026, 11, 30))


def test_a_pseudonym_is_the_hmac_sha256_of_the_normalised_name():
    expected = hmac.new(b"k", b"ada", hashlib.sha256).hexdigest()
    assert pseudonym("k", "ada") == expected
    assert len(expected) == 64


def test_pseudonyms_are_stable_for_a_key_and_differ_across_keys():
    assert pseudonym("shared", "ada") == pseudonym("shared", "ada")
    assert pseudonym("shared", "ada") != pseudonym("other", "ada")
    assert pseudonym("shared", "ada") != pseudonym("shared", "bob")
    assert key_check("shared") == key_check("shared") != key_check("other")
    assert key_check("shared") not in (pseudonym("shared", "ada"),)


@pytest.mark.parametrize("variant", ["ADA", " ada ", "Ada\t", "\uff21da"])  # fullwidth A
def test_normalisation_matches_the_same_person_written_differently(variant):
    assert normalise_username(variant) == "ada"
    assert pseudonym("k", variant) == pseudonym("k", "ada")


def test_a_pseudonym_needs_a_key():
    with pytest.raises(ValueError, match="key"):
        pseudonym("", "ada")


def test_the_billing_document_holds_counts_and_pseudonyms_never_names():
    lines = (
        BillingLine("ada", 1, 1, False, None),
        BillingLine("bob", 2, 0, False, None),
    )
    document = billing_document(BillingList(202611, lines, None), "k")
    assert document["month"] == "2026-11" and document["closed"] is False
    assert (document["mau_login"], document["mau_server"]) == (2, 1)
    assert document["pseudonyms"] == {
        "login": sorted([pseudonym("k", "ada"), pseudonym("k", "bob")]),
        "server": [pseudonym("k", "ada")],
    }
    assert "ada" not in str(document) and "bob" not in str(document)
