"""Closed months: each written version of a month's figures and the users behind them.

The service closes every month that ended more than ``Onboarding.billing_close_days`` ago
and is not closed yet, after each refresh: on the first start after this upgrade that closes
the past months of an existing database once, from what it holds.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_months",
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("mau_login", sa.Integer, nullable=False),
        sa.Column("mau_server", sa.Integer, nullable=False),
        sa.Column("basis", sa.String(8), nullable=False),
        sa.Column("fee", sa.Float, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=False),
        sa.Column("closed_by", sa.Text, nullable=False),
    )
    op.create_table(
        "billing_month_users",
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("login_days", sa.Integer, nullable=False),
        sa.Column("server_days", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("billing_month_users")
    op.drop_table("billing_months")
