"""The collector's history store on a real PostgreSQL server."""

from __future__ import annotations

import pytest
from harness.collector import (
    check_stored,
    store_twice,
)

pytestmark = pytest.mark.integration


async def test_store_appends_each_run_to_postgresql(tmp_path, stand_in, postgres_url):
    report = await store_twice(tmp_path, stand_in, postgres_url)
    check_stored(postgres_url, report)
