"""Alembic environment: runs on the connection workplan hands it (``workplan db upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from workplan.tables import metadata

target_metadata = metadata
connection = context.config.attributes.get("connection")


def run() -> None:
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # `alembic revision --autogenerate` from a shell, for developers: -x url=sqlite:///…
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///:memory:")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
