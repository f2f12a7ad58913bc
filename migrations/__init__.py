"""Alembic migrations of the inbox/outbox schema, shipped in the package for `ingest migrate`."""
