"""Server sessions and daily peaks of running servers: sessions, usage_peaks.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("server", sa.Text, nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("ended", sa.Float, nullable=True),
        sa.Column("last_activity", sa.Float, nullable=True),
        sa.Column("profile", sa.String(64), nullable=True),
        sa.Column("image", sa.String(64), nullable=True),
    )
    op.create_index("ix_sessions_ended", "sessions", ["ended"])
    op.create_index("ix_sessions_started", "sessions", ["started"])
    op.create_index("ix_sessions_user_started", "sessions", ["user_id", "started"])
    op.create_table(
        "usage_peaks",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("servers", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_peaks")
    op.drop_index("ix_sessions_user_started", "sessions")
    op.drop_index("ix_sessions_started", "sessions")
    op.drop_index("ix_sessions_ended", "sessions")
    op.drop_table("sessions")
