"""Server sessions, daily peaks of running servers and the per-user table of the current
month: sessions, usage_peaks, usage_user_months.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_usage_user_months_sessions", ["month", "sessions", "user_id"]),
    ("ix_usage_user_months_seconds", ["month", "seconds", "user_id"]),
    ("ix_usage_user_months_last_end", ["month", "open", "last_end", "user_id"]),
)


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
    op.create_table(
        "usage_user_months",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("last_end", sa.Float, nullable=True),
        sa.Column("open", sa.Integer, nullable=False),
    )
    for name, columns in INDEXES:
        op.create_index(name, "usage_user_months", columns)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, "usage_user_months")
    op.drop_table("usage_user_months")
    op.drop_table("usage_peaks")
    op.drop_index("ix_sessions_user_started", "sessions")
    op.drop_index("ix_sessions_started", "sessions")
    op.drop_index("ix_sessions_ended", "sessions")
    op.drop_table("sessions")
