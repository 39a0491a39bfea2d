"""The collector's HTML summary shows each hub's cloud cost beside its fee estimate once a
hub reads one: "not available" for a hub without a figure, never 0; no column at all when no
hub reads a cost."""

from __future__ import annotations

import dataclasses

from test_collect_groups import HubsTable, status

from jupyterhub_onboarding.collector.rows import build_row
from jupyterhub_onboarding.collector.writers import to_html


def cost_cells(rows) -> dict[str, str] | None:
    table = HubsTable()
    table.feed(to_html(rows, month=None, generated_at="2026-11-20T12:00:00Z"))
    if "Cloud cost" not in table.headings:
        return None
    column = table.headings.index("Cloud cost")
    return {cells[0]: cells[column] for cells in table.rows}


def test_cloud_cost_beside_the_fee_and_not_available_where_none_was_read():
    document = status(names=False)
    alpha = build_row("alpha", "https://alpha.example.org", document)
    beta = build_row("beta", "https://beta.example.org", document)
    assert cost_cells([alpha, beta]) is None  # no hub reads a cost: no column
    alpha = dataclasses.replace(alpha, cloud_cost=1234.5, cloud_cost_currency="EUR")
    zero = dataclasses.replace(beta, hub="gamma", cloud_cost=0.0, cloud_cost_currency="USD")
    cells = cost_cells([alpha, beta, zero])
    assert cells == {"alpha": "1,234.50 EUR", "beta": "not available", "gamma": "0.00 USD"}
