"""The groups column of each hub's row: how many JupyterHub groups the hub listed with a
member active in the report month (NULL for hubs whose service predates usage per group,
for rows without figures and for older runs). Group names are never stored.

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
    with op.batch_alter_table("collect_hub_rows") as batch:
        batch.add_column(sa.Column("groups", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collect_hub_rows") as batch:
        batch.drop_column("groups")
