"""The first schema of the collector's history: collect_runs and collect_hub_rows.

The tables exactly as release 0.1 created them without migrations; such a database is
stamped with this revision instead of running it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collect_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "month", sa.String(7), nullable=True, comment="YYYY-MM from --month; NULL: current"
        ),
        sa.Column("hubs", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("collector_version", sa.String(32), nullable=False),
    )
    op.create_table(
        "collect_hub_rows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("collect_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hub", sa.String(255), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("reachable", sa.Boolean, nullable=False),
        sa.Column("first_value_achieved", sa.Boolean),
        sa.Column("first_value_date", sa.String(10)),
        sa.Column("days_to_first_value", sa.Float),
        sa.Column("check_in_due", sa.Boolean),
        sa.Column("mau_login", sa.Integer),
        sa.Column("mau_server", sa.Integer),
        sa.Column("active_30d", sa.Integer),
        sa.Column("estimated_usage_fee", sa.Float),
        sa.Column("currency", sa.String(8)),
        sa.Column("tracker_stale", sa.Boolean),
        sa.Column("service_version", sa.String(64)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_collect_hub_rows_run_id", "collect_hub_rows", ["run_id"])
    op.create_index("ix_collect_hub_rows_hub", "collect_hub_rows", ["hub"])


def downgrade() -> None:
    op.drop_index("ix_collect_hub_rows_hub", "collect_hub_rows")
    op.drop_index("ix_collect_hub_rows_run_id", "collect_hub_rows")
    op.drop_table("collect_hub_rows")
    op.drop_table("collect_runs")
