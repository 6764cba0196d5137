"""Alembic environment for the workspace: run by ``retention_mcp.workspace.engine.migrate``.

The caller passes an open connection (already inside a transaction that holds the migration lock) in
``config.attributes["connection"]``; there is no alembic.ini. A new revision: copy the newest file in
``versions/``, give it a new ``revision`` and set ``down_revision`` to the previous one, write
``upgrade``/``downgrade`` with ``op``, and change ``schema.py`` to match (a test compares the two).
"""

from __future__ import annotations

from alembic import context

from retention_mcp.workspace.engine import VERSION_TABLE
from retention_mcp.workspace.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run workspace migrations through retention_mcp.workspace.engine.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
