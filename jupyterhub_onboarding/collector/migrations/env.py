"""Alembic environment of the collector's history: runs on the connection the store hands over.

The revision is kept in ``collector_alembic_version``, apart from the service's.
"""

from alembic import context

from jupyterhub_onboarding.collector.store import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
