"""Usage columns of each hub's row: sessions, server_hours, median_session_minutes and
peak_concurrent_servers (NULL for rows of hubs without usage figures, and for older runs).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("sessions", sa.Integer),
    ("server_hours", sa.Float),
    ("median_session_minutes", sa.Float),
    ("peak_concurrent_servers", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
