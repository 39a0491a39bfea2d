"""A community's MAU across its hubs: distinct people through the pseudonyms, the fee once
on the total, the sum (said so) when pseudonyms cannot be used (#21)."""

from pathlib import Path

import pytest

from jupyterhub_onboarding.collector.community import (
    billing_url,
    community_figures,
    with_communities,
)
from jupyterhub_onboarding.collector.hubsfile import HubsFileError, parse_hubs
from jupyterhub_onboarding.collector.rows import HubStatus, Row
from jupyterhub_onboarding.core import fees
from jupyterhub_onboarding.core.billing import HubPseudonyms, pseudonym


def people(key, names):
    return frozenset(pseudonym(key, name) for name in names)


def hub(name, login, server, fee):
    return HubStatus(Row(hub=name, url="https://x", reachable=True, mau_login=login,
                         mau_server=server, estimated_usage_fee=fee, currency="USD"))  # fmt: skip


def answer(key, login, server, check=None):
    return HubPseudonyms(
        "2026-11", False, len(login), len(server), check or key[:16],
        people(key, login), people(key, server),
    )  # fmt: skip


A = [f"a{i}" for i in range(60)]
B = [f"a{i}" for i in range(30, 90)]  # 30 people on both hubs


def test_two_hubs_of_60_with_30_shared_are_90_people_and_one_fee():
    statuses = [hub("one", 60, 0, 350.0), hub("two", 60, 0, 350.0)]
    found = community_figures(
        "acme", "2026-11", statuses,
        {"one": answer("k", A, []), "two": answer("k", B, [])},
        fees.DEFAULT_TIERS,
    )  # fmt: skip
    assert (found.mau_login, found.mau_server, found.estimated_usage_fee) == (90, 0, 500.0)
    assert found.deduplicated and found.note == ""
    assert [(h.hub, h.mau_login, h.estimated_usage_fee) for h in found.hubs] == [
        ("one", 60, 350.0),
        ("two", 60, 350.0),
    ]
    assert "a1" not in repr(found) and pseudonym("k", "a1") not in repr(found)


def test_without_a_key_on_one_hub_the_community_is_the_sum_and_says_so():
    statuses = [hub("one", 60, 0, 350.0), hub("two", 60, 0, 350.0)]
    found = community_figures(
        "acme", "2026-11", statuses,
        {"one": answer("k", A, []), "two": "it serves no pseudonyms (no billing_pseudonym_key)"},
        fees.DEFAULT_TIERS,
    )  # fmt: skip
    assert (found.mau_login, found.estimated_usage_fee) == (120, 600.0)
    assert not found.deduplicated
    assert found.note == (
        "summed, not de-duplicated: hub two: it serves no pseudonyms (no billing_pseudonym_key)"
    )


def test_hubs_with_different_keys_are_summed():
    statuses = [hub("one", 60, 0, 350.0), hub("two", 60, 0, 350.0)]
    found = community_figures(
        "acme", "2026-11", statuses,
        {"one": answer("k1", A, []), "two": answer("k2", B, [])},
        fees.DEFAULT_TIERS,
    )  # fmt: skip
    assert (found.mau_login, found.deduplicated) == (120, False)
    assert "do not share one pseudonym key" in found.note


def test_each_hub_row_carries_its_community():
    statuses = [hub("one", 60, 0, 350.0), hub("two", 60, 0, 350.0), hub("solo", 5, 1, 50.0)]
    found = community_figures(
        "acme", "2026-11", statuses[:2],
        {"one": answer("k", A, []), "two": answer("k", B, [])},
        fees.DEFAULT_TIERS,
    )  # fmt: skip
    rows = with_communities([s.row for s in statuses], [found])
    assert [(r.community, r.community_mau_login, r.community_deduplicated) for r in rows] == [
        ("acme", 90, True),
        ("acme", 90, True),
        (None, None, None),
    ]


def test_the_hubs_file_takes_a_community_and_refuses_an_empty_one():
    entries = [
        {
            "name": "one",
            "hub_url": "https://one.example.org",
            "token_env": "T",
            "community": "acme",
        },
        {"name": "two", "hub_url": "https://two.example.org", "token_env": "T"},
    ]
    one, two = parse_hubs(entries, Path("."))
    assert (one.community, two.community) == ("acme", None)
    assert billing_url(one, "2026-11") == (
        "https://one.example.org/services/onboarding/api/v1/billing/2026-11"
    )
    entries[1]["community"] = " "
    with pytest.raises(HubsFileError, match="hub 'two': community must be a name"):
        parse_hubs(entries, Path("."))
