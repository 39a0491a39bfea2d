"""The first schema: users, activity, milestones, service_state.

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
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("first_login_at", sa.DateTime, nullable=True),
        sa.Column("first_server_at", sa.DateTime, nullable=True),
        sa.Column("last_login_at", sa.DateTime, nullable=True),
        sa.Column("last_server_at", sa.DateTime, nullable=True),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_users_first_login_at", "users", ["first_login_at"])
    op.create_index("ix_users_last_login_at", "users", ["last_login_at"])
    op.create_table(
        "activity",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("basis", sa.SmallInteger, primary_key=True),
        sa.Column("days", sa.Integer, nullable=False),
    )
    op.create_index("ix_activity_month_basis", "activity", ["month", "basis"])
    op.create_table(
        "milestones",
        sa.Column("basis", sa.String(16), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True),
        sa.Column("achieved_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "service_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_state")
    op.drop_table("milestones")
    op.drop_index("ix_activity_month_basis", "activity")
    op.drop_table("activity")
    op.drop_table("users")
