"""Next-event columns of each hub's row: title, kind, start, days until, expected attendees
and the preparation checklist's ticked and total items (NULL for rows of hubs without a
planned event or whose service has no events, and for older runs).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("next_event_title", sa.Text),
    ("next_event_kind", sa.String(64)),
    ("next_event_start", sa.String(32)),
    ("next_event_days_until", sa.Float),
    ("next_event_expected_attendees", sa.Integer),
    ("next_event_checklist_done", sa.Integer),
    ("next_event_checklist_total", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
