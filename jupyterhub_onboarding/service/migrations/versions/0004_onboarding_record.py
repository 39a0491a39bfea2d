"""The onboarding meeting, recorded: checklist ticks and the meeting itself.

``checklist_ticks`` holds the items an administrator ticked off (who and when); undoing a
tick removes its row. ``meeting`` holds the one onboarding meeting of the hub (the date it
was held, whether hub access was confirmed, who recorded it and when).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_ticks",
        sa.Column("item", sa.String(64), primary_key=True),
        sa.Column("ticked_by", sa.Text, nullable=False),
        sa.Column("ticked_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("hub_access_confirmed", sa.Boolean, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("meeting")
    op.drop_table("checklist_ticks")
