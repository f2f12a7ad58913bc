"""Vendor types no handler maps yet: published as `<vendor>.<vendor type>`, nothing dropped."""

from __future__ import annotations

from typing import Any

from ingest.schemas.base import DomainModel


class VendorPassthrough(DomainModel):
    vendor: str
    vendor_event_type: str
    payload: Any
    """The vendor's JSON payload, unchanged."""
