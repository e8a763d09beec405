"""Alembic environment: loopml always passes an open connection and its own version table."""

from alembic import context

from loopml.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
