"""Usernames of any length: users.name becomes TEXT (it was VARCHAR(255)).

The hub accepts names far longer than 255 characters; PostgreSQL refused to store them.
SQLite never enforced the length, so its table stays as it is (rebuilding it would fight the
foreign keys that point at it).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("users", "name", existing_type=sa.String(255), type_=sa.Text())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("users", "name", existing_type=sa.Text(), type_=sa.String(255))
