"""Alembic migrations for the inbox and outbox schema (shipped inside the package for `ingest migrate`)."""
