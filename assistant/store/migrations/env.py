"""Alembic environment: run by `Store.migrate()`, which hands over an open connection.

There is no alembic.ini: the store builds the configuration in code and passes the connection
(already inside a write transaction, holding the migration lock) in `config.attributes`.
"""

from __future__ import annotations

from alembic import context

from assistant.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through Store.migrate(); it supplies the connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables in later migrations.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
