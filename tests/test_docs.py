"""The code in the docs runs: `docs/adding-a-vendor.md`'s Acme vendor, pasted into modules as a
reader would, verifies what its simulator signs and maps it."""

from __future__ import annotations

import re
import shutil
import sys
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.handlers.base import (
    Delivery,
    InboundRequest,
    InvalidSignatureError,
    Verification,
    lower_headers,
)
from ingest.simulation import templates
from ingest.simulation.base import SigningContext
from ingest.sources import SourceConfig
from tests import support

GUIDE = support.ROOT / "docs" / "adding-a-vendor.md"


def _module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(code, f"{GUIDE}:{name}", "exec"), module.__dict__)  # noqa: S102 - the guide's own code
    return module


@pytest.fixture
def acme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    guide = GUIDE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    # The guide's samples file, where the package keeps samples (here: a copy of the folder).
    [samples] = re.findall(r"```json\n(.*?)```", guide, re.S)
    folder = tmp_path / "samples"
    shutil.copytree(Path(str(templates.SAMPLES)), folder)
    (folder / "acme.json").write_text(samples)
    monkeypatch.setattr(templates, "SAMPLES", folder)
    templates.samples.cache_clear()
    handler_code = next(b for b in blocks if b.startswith("# handlers/acme.py"))
    simulator_code = next(b for b in blocks if b.startswith("# ingest/simulation/acme.py"))
    try:
        yield (
            _module("ingest.handlers.acme", handler_code),
            _module("ingest.simulation.acme", simulator_code),
        )
    finally:
        sys.modules.pop("ingest.handlers.acme", None)
        sys.modules.pop("ingest.simulation.acme", None)
        templates.samples.cache_clear()


def test_the_guides_hmac_vendor_verifies_and_maps_what_its_simulator_sends(
    acme: tuple[types.ModuleType, types.ModuleType],
) -> None:
    handler_module, simulator_module = acme
    handler = handler_module.AcmeHandler()
    simulator = simulator_module.AcmeSimulator(handler)
    source = handler.check_config(SourceConfig(name="acme", vendor="acme", secrets=("s3cret",)))
    context = SigningContext(source=source, url="https://i.test/webhooks/acme", secret="s3cret")
    assert simulator.sample_types == ("payment.completed",)  # the data file's types
    signed = simulator.sign(simulator.sample(None), context, time.time())
    request = InboundRequest("POST", signed.url, lower_headers(signed.headers), signed.body)

    assert handler.verify(Verification(request, source, time.time(), {})).secret_index == 0
    identity = handler.identify(request, source)
    [event] = handler.normalize(
        Delivery(
            "acme", "acme", identity.event_id, identity.event_type, signed.body, datetime.now(UTC)
        )
    )
    assert event.type == "payment.succeeded"
    assert event.data.amount.amount_minor == 1099

    tampered = InboundRequest("POST", signed.url, request.headers, signed.body + b" ")
    with pytest.raises(InvalidSignatureError):
        handler.verify(Verification(tampered, source, time.time(), {}))
