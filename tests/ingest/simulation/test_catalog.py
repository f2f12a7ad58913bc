"""Every vendor has a simulator, and what it makes is what the vendor's handler accepts: each
sample type, signed, verifies and identifies (the per-vendor tests check the mapping)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

import pytest

from ingest.handlers import HANDLERS
from ingest.handlers.base import Delivery, InboundRequest, Verification, lower_headers
from ingest.simulation import SIMULATORS, simulator
from ingest.simulation.base import Simulator
from tests import catalog


def test_every_vendor_has_exactly_one_simulator() -> None:
    assert set(SIMULATORS) == set(HANDLERS)
    for vendor, sim in SIMULATORS.items():
        assert isinstance(sim, Simulator)
        assert sim.vendor == vendor
        assert sim.handler is HANDLERS[vendor]
        assert simulator(HANDLERS[vendor]) is sim
        assert simulator(type(HANDLERS[vendor])) is sim
        assert sim.sample_types, f"{vendor} has nothing for `ingest send --type`"


@pytest.mark.parametrize("vendor", sorted(HANDLERS))
def test_each_sample_type_is_signed_so_its_handler_verifies_it(vendor: str, tmp_path: Path) -> None:
    handler, sim = HANDLERS[vendor], SIMULATORS[vendor]
    source = catalog.source_config(vendor, tmp_path)
    context = catalog.signing_context(source, tmp_path)
    pinned = handler.pinned_documents(source)
    for event_type in sim.sample_types:
        now = time.time()
        signed = sim.sign(sim.sample(event_type), context, now, event_type)
        inbound = InboundRequest(
            signed.method, signed.url, lower_headers(signed.headers), signed.body
        )
        documents = {
            url: Path(pinned[url]).read_bytes()
            for url in handler.documents(inbound)
            if url in pinned
        }
        assert handler.verify(Verification(inbound, source, now, documents)).secret_index == 0
        handler.identify(inbound, source)


def _documented(value: str) -> str:
    """The CloudEvent type a `mapped_types` entry names, as a glob: its first word (the rest
    explains), with a placeholder such as `<action>` standing for any word."""
    return re.sub(r"<[a-z_]+>", "*", value.split(maxsplit=1)[0].rstrip(",;"))


@pytest.mark.parametrize("vendor", sorted(HANDLERS))
def test_each_sample_maps_to_the_type_ingest_vendors_documents(vendor: str, tmp_path: Path) -> None:
    """`mapped_types` is what `ingest vendors` shows users; it is written by hand beside the
    mapping, so it is checked against what the mapping does with the vendor's own samples: a
    delivery of a documented vendor type becomes the documented CloudEvent type, and every
    domain type a sample produces (anything but a `<vendor>.…` passthrough) is documented."""
    handler, sim = HANDLERS[vendor], SIMULATORS[vendor]
    source = catalog.source_config(vendor, tmp_path)
    context = catalog.signing_context(source, tmp_path)
    documented = {_documented(value) for value in handler.mapped_types.values()}
    domain_types: set[str] = set()
    for sample_type in sim.sample_types:
        now = time.time()
        signed = sim.sign(sim.sample(sample_type), context, now, sample_type)
        inbound = InboundRequest(
            signed.method, signed.url, lower_headers(signed.headers), signed.body
        )
        identity = handler.identify(inbound, source)
        if identity.handshake:
            continue
        delivery = Delivery(
            source=source.name,
            vendor=vendor,
            event_id=identity.event_id,
            event_type=identity.event_type,
            body=inbound.body,
            received_at=datetime.now(UTC),
            headers=inbound.headers,
        )
        types = {emitted.type for emitted in handler.normalize(delivery)}
        if identity.event_type in handler.mapped_types:
            expected = _documented(handler.mapped_types[identity.event_type])
            assert all(fnmatch(t, expected) for t in types), (sample_type, types, expected)
        domain_types |= {t for t in types if not t.startswith(f"{vendor}.")}
    for produced in domain_types:
        assert any(fnmatch(produced, glob) for glob in documented), (
            f"{vendor} emits {produced} but `ingest vendors` does not say so"
        )
