"""Property tests: whatever arrives in the signature headers and body, verification and
identification answer with a rejection (a 4xx), never another exception (a 500).

Each case starts from a correctly signed request and replaces any subset of its credential
headers with arbitrary text (non-ASCII, control characters, huge values, near-miss formats), so
the examples get past the first checks and reach the parsing that could crash.
"""

from __future__ import annotations

import base64
import functools
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.handlers import HANDLERS
from ingest.handlers.base import RejectedRequestError, VendorHandler, Verification
from ingest.handlers.basic_auth import BasicAuthHandler
from ingest.handlers.generic_hmac import GenericHmacHandler
from ingest.handlers.github import GitHubHandler
from ingest.handlers.header_token import HeaderTokenHandler
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.handlers.stripe import StripeHandler
from ingest.simulation import simulator
from ingest.simulation.base import SignedRequest, SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests import catalog
from tests.handlers.contract import HOSTILE_VALUES, POISONS, bodies_with_one_value_poisoned
from tests.handlers.kit import URL, request

NOW = 1_700_000_000
# Public key of the v1a vector in test_standard_webhooks (any valid whpk_ key would do).
PUBLIC_KEY = "whpk_wuzPrKxPfWpJSsXgyg/MEoMGvjs5SjDO4ad6X4ZYqqg="
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@dataclass(frozen=True)
class Case:
    handler: VendorHandler
    source: SourceConfig
    headers: tuple[str, ...]
    """The headers whose values are replaced; names lower-case, as the service passes them."""
    body: bytes

    key_dir: Path = Path(".ingest-keys")

    def signed_request(self) -> SignedRequest:
        secret = self.source.secrets[0] if self.source.secrets else None
        context = SigningContext(source=self.source, url=URL, secret=secret, key_dir=self.key_dir)
        return simulator(self.handler).sign(self.body, context, NOW)

    def signed(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.signed_request().headers.items()}


def _case(
    handler: VendorHandler, *secrets: str, headers: tuple[str, ...], **options: object
) -> Case:
    source = handler.check_config(
        SourceConfig(
            name="p", vendor=handler.vendor, secrets=secrets, options=RawOptions.of(options)
        )
    )
    return Case(handler, source, headers, simulator(handler).sample(None))


CASES: dict[str, Callable[[], Case]] = {
    "stripe": lambda: _case(StripeHandler(), "whsec_p", headers=("stripe-signature",)),
    "github": lambda: _case(
        GitHubHandler(),
        "gh",
        headers=("x-hub-signature-256", "x-github-delivery", "x-github-event"),
    ),
    "standard-webhooks": lambda: _case(
        StandardWebhooksHandler(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        headers=("webhook-id", "webhook-timestamp", "webhook-signature", "svix-signature"),
        public_keys=[PUBLIC_KEY],
    ),
    "generic-hmac": lambda: _case(
        GenericHmacHandler(),
        "g",
        headers=("x-sig", "x-ts", "x-id", "x-type"),
        header="x-sig",
        prefix="v1=",
        multiple_signatures_separator=",",
        timestamp_header="x-ts",
        id_header="x-id",
        type_header="x-type",
        signed_content="{id}.{timestamp}.{url}.{body}",
    ),
    "generic-hmac-base64": lambda: _case(
        GenericHmacHandler(),
        "g",
        headers=("x-sig",),
        header="x-sig",
        encoding="base64",
        algorithm="sha512",
        multiple_signatures_separator=" ",
        timestamp_prefix="t=",
        signed_content="{timestamp}:{body}",
        id_json_path="data.id",
        type_json_path="type",
    ),
    "basic-auth": lambda: _case(
        BasicAuthHandler(),
        headers=("authorization", "x-request-id"),
        basic_auth=[{"username": "u", "password": "p"}, {"username": "ü", "password": "ß:ß"}],
        id_header="x-request-id",
    ),
    "header-token": lambda: _case(
        HeaderTokenHandler(), headers=("authorization",), tokens=["t0k3n", "jéton"]
    ),
    "header-token-custom": lambda: _case(
        HeaderTokenHandler(),
        headers=("x-webhook-token",),
        header="x-webhook-token",
        tokens=["t0k3n"],
        type_json_path="type",
    ),
}

KEY_DIR = Path(tempfile.mkdtemp(prefix="ingest-properties-"))


def _catalog_case(vendor: str) -> Case:
    """Any vendor, configured as tests/catalog.py configures it, its signature headers fuzzed."""
    handler = HANDLERS[vendor]
    source = catalog.source_config(vendor, KEY_DIR, name="p")
    headers = tuple(name.lower() for name in handler.signature_headers)
    return Case(handler, source, headers, simulator(handler).sample(None), KEY_DIR)


# Every vendor in the registry, besides the hand-made cases above (which fuzz more headers, with
# more examples): a vendor added tomorrow is fuzzed without anyone listing it here.
CATALOG_CASES: dict[str, Callable[[], Case]] = {
    vendor: functools.partial(_catalog_case, vendor) for vendor in HANDLERS if vendor not in CASES
}

NEAR_MISS_PREFIXES = [
    "v1,",
    "v1a,",
    "v1=",
    "t=",
    "sha256=",
    "Basic ",
    "Bearer ",
    "bearer ",
    f"t={NOW},v1=",
    f"{NOW}",
]


def _header_values(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet=characters),
        st.sampled_from(HOSTILE_VALUES),
        st.builds(str.__add__, st.sampled_from(NEAR_MISS_PREFIXES), st.text(alphabet=characters)),
        st.builds(
            str.__add__,
            st.sampled_from(NEAR_MISS_PREFIXES),
            st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()),
        ),
        st.builds(
            str.__add__,
            st.sampled_from(NEAR_MISS_PREFIXES),
            st.text(alphabet=string.hexdigits, max_size=140),
        ),
        st.text(alphabet=st.characters(codec="latin-1"), min_size=4000, max_size=9000),
    )


# What Starlette can hand a handler: it decodes header bytes as latin-1.
latin1_header_values = _header_values(st.characters(codec="latin-1"))
# Any code point, lone surrogates included: never off the wire, but the contract is "never
# anything but a rejection", whoever calls.
header_values = st.one_of(
    latin1_header_values,
    _header_values(st.characters()),
    _header_values(st.characters(exclude_categories=())),
)


@pytest.mark.parametrize("vendor", sorted(CASES))
@PROPERTY_SETTINGS
@given(data=st.data(), body=st.one_of(st.binary(), st.just(None)))
def test_any_headers_and_body_only_ever_raise_rejections(
    vendor: str, data: st.DataObject, body: bytes | None
) -> None:
    _fuzz(CASES[vendor](), data, body)


@pytest.mark.parametrize("vendor", sorted(CATALOG_CASES))
@settings(max_examples=100, deadline=None)
@given(data=st.data(), body=st.one_of(st.binary(), st.just(None)))
def test_every_vendor_in_the_registry_only_ever_raises_rejections(
    vendor: str, data: st.DataObject, body: bytes | None
) -> None:
    _fuzz(CATALOG_CASES[vendor](), data, body)


@pytest.mark.parametrize("vendor", sorted(CATALOG_CASES))
def test_a_signed_body_changed_in_any_value_is_rejected_never_crashed_on(vendor: str) -> None:
    """A forger keeps the vendor's signature and edits one value of the body, giving it what no
    vendor sends (a NUL, a JSON-escaped lone surrogate, 300 characters more): verification must
    answer with a rejection, whatever it parses out of the body to build what was signed. (A
    scheme that signs some fields (SNS) or no body at all (a token, Basic auth, an OIDC token)
    accepts an edit elsewhere: then verification must simply not crash.)"""
    case = CATALOG_CASES[vendor]()
    # Signed now, not at NOW: a sample's own times (Pusher's time_ms) and the certificates the
    # simulator makes are of now.
    now = time.time()
    secret = case.source.secrets[0] if case.source.secrets else None
    context = SigningContext(source=case.source, url=URL, secret=secret, key_dir=case.key_dir)
    signed = simulator(case.handler).sign(case.body, context, now)
    headers = {name.lower(): value for name, value in signed.headers.items()}
    pinned = case.handler.pinned_documents(case.source)

    def verify(body: bytes) -> RejectedRequestError | None:
        inbound = request(body, headers, url=signed.url)
        urls = _rejection_or(lambda: case.handler.documents(inbound), [])
        documents = {url: Path(pinned[url]).read_bytes() for url in urls if url in pinned}
        verification = Verification(inbound, case.source, now, documents)
        return _rejection(lambda: case.handler.verify(verification))

    assert verify(signed.body) is None
    # A space after the JSON changes the bytes and no value: rejected, the bytes are what is
    # signed, so every edit must be; accepted, the scheme signs some fields (SNS) or no body.
    bytes_are_signed = verify(signed.body + b" ") is not None
    for poison in POISONS:
        for body in bodies_with_one_value_poisoned(signed.body, poison):
            rejection = verify(body)  # anything but a rejection propagates and fails the test
            assert rejection is not None or not bytes_are_signed, (vendor, body[:200])
            assert rejection is None or 400 <= rejection.status < 500


def _fuzz(case: Case, data: st.DataObject, body: bytes | None) -> None:
    signed = case.signed_request()
    headers = {name.lower(): value for name, value in signed.headers.items()}
    for name in case.headers:
        action = data.draw(st.sampled_from(["keep", "drop", "replace"]), label=name)
        if action == "drop":
            headers.pop(name, None)
        elif action == "replace":
            headers[name] = data.draw(header_values, label=f"{name} value")
    inbound = request(case.body if body is None else body, headers, url=signed.url)
    pinned = case.handler.pinned_documents(case.source)
    documents = {
        url: Path(pinned[url]).read_bytes()
        for url in _rejection_or(lambda: case.handler.documents(inbound), [])
        if url in pinned
    }
    for call in (
        lambda: case.handler.verify(Verification(inbound, case.source, NOW, documents)),
        lambda: case.handler.identify(inbound, case.source),
    ):
        rejection = _rejection(call)  # anything else propagates and fails the test
        assert rejection is None or (400 <= rejection.status < 500 and rejection.message)


def _rejection_or(call: Callable[[], list[str]], default: list[str]) -> list[str]:
    try:
        return call()
    except RejectedRequestError:
        return default


def _rejection(call: Callable[[], object]) -> RejectedRequestError | None:
    try:
        call()
    except RejectedRequestError as exc:
        return exc
    return None


def test_github_rejects_a_signature_beyond_latin1() -> None:
    case = CASES["github"]()
    headers = {**case.signed(), "x-hub-signature-256": "sha256=\u0100"}
    with pytest.raises(RejectedRequestError):
        case.handler.verify(Verification(request(case.body, headers), case.source, NOW, {}))


@pytest.mark.parametrize(
    "vendor", ["generic-hmac", "generic-hmac-base64", "basic-auth", "header-token-custom"]
)
@PROPERTY_SETTINGS
@given(body=st.binary(max_size=2000))
def test_what_sign_makes_verifies_for_any_body(vendor: str, body: bytes) -> None:
    """Byte-exact: the configurable vendors verify any body, JSON, text or binary."""
    case = CASES[vendor]()
    case = Case(case.handler, case.source, case.headers, body)
    assert (
        case.handler.verify(
            Verification(request(body, case.signed()), case.source, NOW, {})
        ).secret_index
        == 0
    )


@PROPERTY_SETTINGS
@given(text=st.text(max_size=2000))
def test_standard_webhooks_verifies_any_utf8_body(text: str) -> None:
    case = CASES["standard-webhooks"]()
    body = text.encode()
    case = Case(case.handler, case.source, case.headers, body)
    assert case.handler.verify(Verification(request(body, case.signed()), case.source, NOW, {}))


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    simulator(StandardWebhooksHandler()).generate_keys(directory)
    return directory


@PROPERTY_SETTINGS
@given(text=st.text(max_size=2000))
def test_standard_webhooks_v1a_verifies_any_utf8_body(key_dir: Path, text: str) -> None:
    handler = StandardWebhooksHandler()
    generated = (key_dir / "standard-webhooks" / "public.whpk").read_text().strip()
    source = handler.check_config(
        SourceConfig(
            name="p",
            vendor=handler.vendor,
            options=RawOptions.of({"public_keys": [PUBLIC_KEY, generated]}),
        )
    )
    body = text.encode()
    signed = simulator(handler).sign(
        body, SigningContext(source=source, url=URL, key_dir=key_dir), NOW
    )
    assert signed.headers["webhook-signature"].startswith("v1a,")
    assert (
        handler.verify(Verification(request(body, signed.headers), source, NOW, {})).secret_index
        == 1
    )
