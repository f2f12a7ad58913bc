"""`ingest.simulation.base`: what every simulator inherits — its sample types from its data file,
a fresh body per call, and clear refusals for what it cannot make.

The registry-wide check that each simulator's requests verify with its vendor's handler is
`test_catalog.py`; this module is the base class's own behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typing_extensions import override

from ingest.errors import ConfigError
from ingest.handlers.github import GitHubHandler
from ingest.simulation import SIMULATORS, templates
from ingest.simulation.base import SignedRequest, SigningContext, Simulator


class _Unsigned(Simulator[Any]):
    vendor: ClassVar[str] = "github"

    @override
    def sign(
        self, body: bytes, context: SigningContext, now: float, event_type: str | None = None
    ) -> SignedRequest:
        return SignedRequest(headers={}, body=body, url=context.url)


def test_a_simulators_sample_types_are_its_data_files_in_order() -> None:
    assert _Unsigned.sample_types == tuple(templates.samples("github"))
    assert _Unsigned.sample_types[0] == "push"


def test_a_vendor_sharing_another_files_samples_names_it() -> None:
    class Shared(_Unsigned):
        vendor: ClassVar[str] = "acme-hmac"
        samples_file: ClassVar[str | None] = "generic"

    assert Shared.sample_types == tuple(templates.samples("generic"))


def test_each_sample_has_fresh_ids() -> None:
    """Two `ingest send` runs must not be deduplicated as one redelivery."""
    simulator = _Unsigned(GitHubHandler())
    first, second = simulator.sample("push"), simulator.sample("push")
    assert first != second
    assert json.loads(first).keys() == json.loads(second).keys()


def test_no_type_means_the_first_sample() -> None:
    simulator = _Unsigned(GitHubHandler())
    assert simulator.template(None) == templates.samples("github")["push"]


def test_an_unknown_type_is_refused_with_the_types_there_are() -> None:
    simulator = _Unsigned(GitHubHandler())
    with pytest.raises(ConfigError, match=r"vendor github has no sample of type 'nope'") as refused:
        simulator.template("nope")
    assert "push" in str(refused.value)


def test_a_shared_secret_vendor_has_no_keys_to_generate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="signs with shared secrets; there are no keys"):
        _Unsigned(GitHubHandler()).generate_keys(tmp_path)


def test_the_asymmetric_vendors_write_their_keys_under_their_own_directory(
    tmp_path: Path,
) -> None:
    for vendor in ("aws-sns", "paypal", "gcs", "sendgrid"):
        lines = SIMULATORS[vendor].generate_keys(tmp_path)
        assert lines.strip(), vendor
        written = list((tmp_path / vendor).iterdir())
        assert written, f"{vendor} wrote nothing under {tmp_path / vendor}"
