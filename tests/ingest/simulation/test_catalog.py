"""Every vendor has a simulator, and what it makes is what the vendor's handler accepts: each
sample type, signed, verifies and identifies (the per-vendor tests check the mapping)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.handlers import HANDLERS
from ingest.handlers.base import InboundRequest, Verification, lower_headers
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
            for url in handler.documents(inbound, source)
            if url in pinned
        }
        assert handler.verify(Verification(inbound, source, now, documents)).secret_index == 0
        handler.identify(inbound, source)
