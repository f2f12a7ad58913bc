"""Webhook ingestion: verify, store durably, normalize, publish."""

__version__ = "0.1.0"
