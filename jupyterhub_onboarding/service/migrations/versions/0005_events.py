"""Planned events (exams, workshops, demos) and what their windows showed: events.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("expected_attendees", sa.Integer, nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.Column("checklist", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("actual_peak", sa.Integer, nullable=True),
        sa.Column("actual_sessions", sa.Integer, nullable=True),
        sa.Column("actual_users", sa.Integer, nullable=True),
    )
    op.create_index("ix_events_start", "events", ["start"])


def downgrade() -> None:
    op.drop_index("ix_events_start", "events")
    op.drop_table("events")
