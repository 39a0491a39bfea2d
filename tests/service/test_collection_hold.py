"""Full garbage collections held back while large short-lived structures are alive (#23)."""

import gc

from jupyterhub_onboarding.service.collection import HELD_THRESHOLD, Collections


def test_full_collections_are_held_back_inside_and_restored_after_the_last_holder():
    before = gc.get_threshold()
    collections = Collections()
    with collections.held():
        assert gc.get_threshold() == (before[0], before[1], HELD_THRESHOLD)
        with collections.held():
            assert gc.get_threshold()[2] == HELD_THRESHOLD
        # the first holder is still inside
        assert gc.get_threshold()[2] == HELD_THRESHOLD
    assert gc.get_threshold() == before


def test_the_threshold_comes_back_when_the_block_fails():
    before = gc.get_threshold()
    collections = Collections()
    try:
        with collections.held():
            raise RuntimeError("the sync failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def grow(kept: list) -> None:
    """What a full sync does: many container objects that survive the young collections."""
    for _ in range(400):
        kept.append([[] for _ in range(500)])


def test_no_full_collection_runs_while_held_and_they_run_again_after():
    collections = Collections()
    kept: list = []
    full_before = gc.get_stats()[2]["collections"]
    with collections.held():
        grow(kept)
        assert gc.get_stats()[2]["collections"] == full_before
    kept.clear()
    # the same growth outside: a full collection runs
    grow(kept)
    assert gc.get_stats()[2]["collections"] > full_before
