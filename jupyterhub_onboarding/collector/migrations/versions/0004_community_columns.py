"""Community columns of each hub's row: the community from the hubs file, its MAU on both
bases across its hubs, its fee on the total and whether its people were counted once
(NULL for hubs without a community and for older runs). Pseudonyms are never stored.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("community", sa.String(255)),
    ("community_mau_login", sa.Integer),
    ("community_mau_server", sa.Integer),
    ("community_estimated_usage_fee", sa.Float),
    ("community_deduplicated", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
