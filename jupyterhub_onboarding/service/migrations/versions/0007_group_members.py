"""Group members: the JupyterHub groups each user belonged to in each month, for the usage
per group. Filled from the polls after this upgrade (the months before it have no groups).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_members",
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("group_name", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_index("ix_group_members_user_month", "group_members", ["user_id", "month"])


def downgrade() -> None:
    op.drop_index("ix_group_members_user_month", table_name="group_members")
    op.drop_table("group_members")
