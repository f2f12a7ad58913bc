"""One root error type: every refusal carries a short machine-readable code and a 4xx status,
and the README's HTTP table names exactly the codes the code can answer with."""

from __future__ import annotations

import re

from ingest import errors
from ingest.errors import IngestError, RejectedRequestError
from tests import support


def _subclasses(root: type[IngestError]) -> set[type[IngestError]]:
    found = set(root.__subclasses__())
    for child in list(found):
        found |= _subclasses(child)
    return found


REFUSALS = {cls for cls in _subclasses(RejectedRequestError) if cls.__module__ == errors.__name__}


def test_every_refusal_is_a_4xx_with_a_short_snake_case_code() -> None:
    assert REFUSALS
    for refusal in REFUSALS:
        assert 400 <= refusal.status < 500, refusal
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", refusal.code), refusal
        assert len(refusal.code) <= 32, refusal


def test_the_readme_documents_every_refusal_code() -> None:
    table = support.ROOT.joinpath("README.md").read_text().split("## HTTP API", 1)[1]
    documented = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", table.split("\n## ", 1)[0]))
    missing = {refusal.code for refusal in REFUSALS} - documented
    assert not missing, f"README's HTTP API table lacks {sorted(missing)}"


def test_a_refusal_keeps_its_message_for_the_response() -> None:
    refusal = errors.InvalidSignatureError("no Stripe signature matches a configured secret")
    assert refusal.message == str(refusal)
    assert (refusal.code, refusal.status) == ("invalid_signature", 401)


def test_errors_that_never_reach_a_response_are_still_ours() -> None:
    for error in (errors.ConfigError, errors.DatabaseNotMigratedError):
        assert issubclass(error, IngestError)
        assert not issubclass(error, RejectedRequestError)
