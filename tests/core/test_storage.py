"""Home directory storage figures from measured sizes: totals, percentiles, buckets, owners."""

import math
import statistics
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyterhub_onboarding.core.homedirs import DirectoryNaming, check_pattern, safe_slug
from jupyterhub_onboarding.core.sources import UNREACHABLE, SourceProblem
from jupyterhub_onboarding.core.storage import (
    GB,
    MB,
    SIZE_BUCKETS,
    DirectorySize,
    StorageState,
    assign_owners,
    storage_figures,
    usable_size,
)

UTC = timezone.utc
T = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


def sizes(*values: int) -> list[DirectorySize]:
    return [
        DirectorySize(f"user{index}", value, f"user{index}") for index, value in enumerate(values)
    ]


def test_figures_of_a_few_directories():
    figures = storage_figures(sizes(10 * MB, 500 * MB, 2 * GB, 40 * GB, 200 * GB), T)
    summary = figures.summary
    assert summary.total_bytes == 10 * MB + 500 * MB + 2 * GB + 40 * GB + 200 * GB
    assert summary.directories == 5
    assert summary.median_bytes == 2 * GB
    # linear interpolation between closest ranks: 40 GB + 0.6 * (200 GB - 40 GB)
    assert summary.p90_bytes == pytest.approx(136 * GB)
    assert summary.distribution == {
        "under_100mb": 1,
        "100mb_1gb": 1,
        "1gb_10gb": 1,
        "10gb_100gb": 1,
        "over_100gb": 1,
    }
    assert summary.measured_at == T
    assert [entry.size_bytes for entry in figures.largest(2)] == [200 * GB, 40 * GB]


def test_a_size_on_an_edge_belongs_to_the_upper_bucket():
    summary = storage_figures(sizes(100 * MB, 1 * GB, 10 * GB, 100 * GB, 0), T).summary
    assert summary.distribution == {
        "under_100mb": 1,
        "100mb_1gb": 1,
        "1gb_10gb": 1,
        "10gb_100gb": 1,
        "over_100gb": 1,
    }


def test_no_directories_give_no_median():
    summary = storage_figures([], T).summary
    assert (summary.total_bytes, summary.directories) == (0, 0)
    assert summary.median_bytes is None and summary.p90_bytes is None
    assert set(summary.distribution) == {key for key, *_ in SIZE_BUCKETS}


def test_the_summary_holds_no_name():
    figures = storage_figures([DirectorySize("ada-secret-name", 5, "ada-secret-name")], T)
    assert "ada-secret-name" not in repr(figures.summary)


@given(st.lists(st.integers(min_value=0, max_value=10**15), max_size=60))
def test_figures_agree_with_the_statistics_module(values):
    figures = storage_figures(sizes(*values), T)
    summary = figures.summary
    assert summary.total_bytes == sum(values)
    assert summary.directories == len(values)
    assert sum(summary.distribution.values()) == len(values)
    if len(values) >= 2:
        quantiles = statistics.quantiles(values, n=10, method="inclusive")
        assert summary.median_bytes == pytest.approx(statistics.median(values))
        assert summary.p90_bytes == pytest.approx(quantiles[8])
    ordered = [entry.size_bytes for entry in figures.sizes]
    assert ordered == sorted(values, reverse=True)


def test_by_user_sums_a_users_directories_and_skips_unknown_owners():
    figures = storage_figures(
        [
            DirectorySize("home-ada", 5, "ada"),
            DirectorySize("scratch-ada", 7, "ada"),
            DirectorySize("_shared", 100, None),
        ],
        T,
    )
    assert figures.by_user() == {"ada": 12}
    assert figures.summary.total_bytes == 112


def test_usable_size_refuses_what_is_no_size():
    assert usable_size(1.6) == 2
    for value in (-1.0, math.nan, math.inf, -math.inf):
        assert usable_size(value) is None


def test_owners_without_a_user_list_under_the_username_scheme():
    found, rejected = assign_owners([("ada", 10.0), ("grace", 20.0)], DirectoryNaming())
    assert {(e.directory, e.username, e.size_bytes) for e in found} == {
        ("ada", "ada", 10),
        ("grace", "grace", 20),
    }
    assert rejected == 0


def test_owners_from_the_hubs_users_under_the_safe_scheme():
    email = "Grace@Example.org"
    measured = [(safe_slug(email), 30.0), ("ada", 10.0), ("stranger", 1.0)]
    found, _ = assign_owners(measured, DirectoryNaming("safe"), ["ada", email])
    owners = {entry.directory: entry.username for entry in found}
    assert owners == {safe_slug(email): email, "ada": "ada", "stranger": None}
    # without the user list no safe name can be traced back to its user
    found, _ = assign_owners(measured, DirectoryNaming("safe"))
    assert {entry.username for entry in found} == {None}


def test_duplicates_count_once_and_bad_values_are_counted_out():
    naming = DirectoryNaming("username", check_pattern(r"(?!_)(?P<username>.+)"))
    measured = [("ada", 10.0), ("ada", 12.0), ("bob", math.nan), ("eve", -5.0), ("_shared", 99.0)]
    found, rejected = assign_owners(measured, naming)
    assert [(e.directory, e.size_bytes) for e in found] == [("ada", 12)]
    assert rejected == 2


def test_the_state_keeps_figures_beside_a_problem():
    figures = storage_figures(sizes(1), T)
    later = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)
    problem = SourceProblem("Prometheus", UNREACHABLE, "connection refused", later)
    state = StorageState(figures, problem, later)
    assert not state.current
    assert state.figures is not None and state.figures.measured_at == T
    assert StorageState(figures, None, T).current
    assert problem.message() == "Prometheus is unreachable (connection refused)"
