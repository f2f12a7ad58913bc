"""The handler contract itself: declared once, its required members enforced, and free of the
service, so vendor modules can be imported (and tested) without the HTTP app or the database."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError
from typing_extensions import override

from ingest.errors import ConfigError, IngestError, TransientHandlerError
from ingest.handlers import HANDLERS, base
from ingest.handlers.base import (
    Configured,
    Delivery,
    Emitted,
    Identifier,
    InvalidSignatureError,
    MalformedRequestError,
    Mapper,
    RejectedRequestError,
    Responder,
    VendorHandler,
    Verifier,
)
from ingest.schemas.identity import UserCreated
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.vcs import VcsPullRequest
from ingest.sources import RawOptions, SourceConfig
from tests import catalog

WHEN = datetime(2026, 12, 2, tzinfo=UTC)
SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem"
PAYPAL_CERT_URL = "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-35c2474e"
SENDGRID_KEY = (  # sendgrid-python's test vector key
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
    "2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)

ACME_FIELDS = base.EventFields(vendor="Acme", id="event_id", type="kind")


def test_a_vendor_that_forgets_a_required_member_cannot_be_instantiated() -> None:
    class Forgetful(VendorHandler):
        vendor: ClassVar[str] = "forgetful"

        @override
        def normalize(self, delivery: Delivery) -> list[Emitted]:
            return []

    with pytest.raises(TypeError, match="abstract") as raised:
        Forgetful()  # type: ignore[abstract]
    for member in ("verify", "identify"):
        assert member in str(raised.value)


def test_every_catalog_entry_is_a_complete_vendor_handler() -> None:
    assert len(HANDLERS) >= 26
    for handler in HANDLERS.values():
        assert isinstance(handler, VendorHandler)
        assert not getattr(type(handler), "__abstractmethods__", None)


def test_one_error_root_with_a_code_and_a_status() -> None:
    for error in (RejectedRequestError, MalformedRequestError, InvalidSignatureError):
        assert issubclass(error, IngestError)
    assert (InvalidSignatureError.code, InvalidSignatureError.status) == ("invalid_signature", 401)
    assert (MalformedRequestError.code, MalformedRequestError.status) == ("malformed_request", 400)


def test_handlers_hold_no_simulation() -> None:
    """Samples and signing live in ingest.simulation; a handler only verifies and maps."""
    for handler in HANDLERS.values():
        for member in ("sample", "sign", "generate_keys", "sample_types"):
            assert not hasattr(handler, member), f"{handler.vendor}.{member}"


def test_the_vendor_layer_imports_nothing_of_the_service() -> None:
    probe = (
        "import sys\n"
        "import ingest.handlers\n"
        "service = ['ingest.app', 'ingest.ingestion', 'ingest.store', 'ingest.db',\n"
        "           'ingest.relay', 'ingest.processing', 'ingest.simulation',\n"
        "           'sqlalchemy', 'starlette']\n"
        "print(sorted(m for m in service if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- Emitted: the CloudEvent type comes from the data --------------------------------------


def test_an_emitted_event_takes_its_type_from_its_data() -> None:
    data = UserCreated(provider="clerk", user_id="user_1", occurred_at=WHEN)
    assert Emitted(data=data, key="user_1").type == "identity.user.created"


def test_a_passthrough_is_typed_vendor_dot_vendor_type() -> None:
    data = VendorPassthrough(vendor="stripe", vendor_event_type="customer.created", payload={})
    assert Emitted(data=data, key="k").type == "stripe.customer.created"


def test_a_type_that_disagrees_with_the_data_is_refused() -> None:
    """Before, `type=` and `data=` were written side by side in 40 places, free to disagree."""
    data = UserCreated(provider="clerk", user_id="user_1", occurred_at=WHEN)
    with pytest.raises(ValueError, match="disagrees"):
        Emitted(type="identity.user.deleted", data=data, key="user_1")


def test_data_without_a_type_of_its_own_must_be_given_one() -> None:
    data = VcsPullRequest(
        provider="github", repository="o/r", number=1, action="opened", title="t", state="open"
    )
    with pytest.raises(TypeError, match="no event_type"):
        Emitted(data=data, key="o/r#1")
    assert Emitted(type="vcs.pull_request.opened", data=data, key="o/r#1").type.endswith("opened")


# -- Emitted: the CloudEvent time is when the data says it occurred --------------------------


def test_an_emitted_event_takes_its_time_from_its_data() -> None:
    data = UserCreated(provider="clerk", user_id="user_1", occurred_at=WHEN)
    assert Emitted(data=data, key="user_1").time == WHEN


def test_a_time_that_disagrees_with_the_data_is_refused() -> None:
    """`time=x.occurred_at` stood beside `data=x` in 27 calls: one more field free to drift."""
    data = UserCreated(provider="clerk", user_id="user_1", occurred_at=WHEN)
    with pytest.raises(ValueError, match="disagrees"):
        Emitted(data=data, key="user_1", time=WHEN + timedelta(seconds=1))
    assert Emitted(data=data, key="user_1", time=WHEN).time == WHEN


def test_data_without_an_occurrence_time_keeps_the_time_given() -> None:
    data = VendorPassthrough(vendor="stripe", vendor_event_type="customer.created", payload={})
    assert Emitted(data=data, key="k").time is None
    assert Emitted(data=data, key="k", time=WHEN).time == WHEN


@pytest.mark.parametrize(
    "written", ["m" * 256, "ajs-\x00-1", "ajs-\ud800-2", "\udfff"], ids=["long", "nul", "lo", "hi"]
)
def test_an_item_id_the_database_cannot_hold_becomes_its_digest(written: str) -> None:
    data = VendorPassthrough(vendor="segment", vendor_event_type="track", payload={})
    event = Emitted(data=data, key="k", item_id=written)
    digest = hashlib.sha256(written.encode("utf-8", "surrogatepass")).hexdigest()
    assert event.item_id == f"sha256:{digest}"
    assert Emitted(data=data, key="k", item_id=written) == event  # the same every time


def test_an_item_id_the_database_can_hold_is_kept_as_written() -> None:
    data = VendorPassthrough(vendor="segment", vendor_event_type="track", payload={})
    written = "ajs-é\x01" + "m" * 248
    assert Emitted(data=data, key="k", item_id=written).item_id == written


# -- configuration every vendor shares --------------------------------------------------------

UNTIMED = sorted(v for v, h in HANDLERS.items() if h.default_tolerance_seconds is None)
WITHOUT_SECRETS = sorted(v for v, h in HANDLERS.items() if h.credentials_option is not None)


def _document(vendor: str, key_dir: Path, **overrides: object) -> SourceConfig:
    document = {**catalog.source_document(vendor, key_dir), **overrides}
    return SourceConfig(
        name="s",
        vendor=vendor,
        secrets=tuple(document.pop("secrets", ())),
        tolerance_seconds=document.pop("tolerance_seconds", None),
        options=RawOptions.of({k: v for k, v in document.items() if k != "vendor"}),
    )


@pytest.mark.parametrize("vendor", UNTIMED)
def test_tolerance_is_refused_where_nothing_signed_carries_a_time(
    vendor: str, tmp_path: Path
) -> None:
    """GitHub, Shopify, Okta… sign no timestamp: a `tolerance_seconds` there protects nothing,
    and a reader of the sources file would believe replays are bounded."""
    handler = HANDLERS[vendor]
    handler.check_config(_document(vendor, tmp_path))
    with pytest.raises(ConfigError, match="tolerance_seconds has no effect"):
        handler.check_config(_document(vendor, tmp_path, tolerance_seconds=60))


@pytest.mark.parametrize("vendor", WITHOUT_SECRETS)
def test_secrets_are_refused_where_credentials_go_elsewhere(vendor: str, tmp_path: Path) -> None:
    handler = HANDLERS[vendor]
    with pytest.raises(ConfigError, match=r"takes its credentials in .*, not 'secrets'"):
        handler.check_config(_document(vendor, tmp_path, secrets=["a-long-enough-secret"]))


# A secret no vendor's format allows: wrong prefix/shape for the key-based vendors, not base64
# after `whsec_`, not ASCII.
UNUSABLE_SECRET = "whsec_ clé"
SECRET_CHECKED = sorted(
    vendor for vendor, handler in HANDLERS.items() if handler.secret_problem(UNUSABLE_SECRET)
)


@pytest.mark.parametrize("vendor", SECRET_CHECKED)
def test_a_secret_in_a_form_the_vendor_never_issues_stops_start_up(
    vendor: str, tmp_path: Path
) -> None:
    """Checked once, at start-up, for each secret: a typo'd or truncated secret would otherwise
    fail every delivery as `invalid_signature`, the vendor's fault to an operator's eye. The
    message names the secret by index and never quotes it."""
    handler = HANDLERS[vendor]
    good = _document(vendor, tmp_path)
    handler.check_config(good)
    bad = _document(vendor, tmp_path, secrets=[*good.secrets, UNUSABLE_SECRET])
    with pytest.raises(ConfigError, match=rf"secrets\[{len(good.secrets)}\]") as refused:
        handler.check_config(bad)
    assert UNUSABLE_SECRET not in str(refused.value)
    assert "clé" not in str(refused.value)


def test_the_vendors_that_check_their_secrets_form_are_the_expected_ones() -> None:
    assert {"ably", "huggingface", "openai", "standard-webhooks", "anthropic", "clerk"} <= set(
        SECRET_CHECKED
    )


def test_the_untimed_and_credential_vendors_are_the_expected_ones() -> None:
    """The lists above come from declarations; this pins them so a vendor cannot drop out of
    the checks by declaring something else by mistake."""
    assert {"github", "shopify", "segment", "square", "twilio", "ably", "okta"} <= set(UNTIMED)
    assert {"stripe", "slack", "pusher", "standard-webhooks"}.isdisjoint(UNTIMED)
    assert set(WITHOUT_SECRETS) == {
        "auth0", "okta", "postmark", "mixpanel", "basic-auth", "header-token", "datadog"
    }  # fmt: skip


# -- the contract by role ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "required"),
    [
        (Verifier, {"verify"}),
        (Identifier, {"identify"}),
        (Mapper, {"normalize"}),
        (Responder, set()),
    ],
)
def test_each_role_is_a_small_interface_with_its_required_members_abstract(
    role: type[Configured], required: set[str]
) -> None:
    assert role.__abstractmethods__ == frozenset(required)
    assert issubclass(VendorHandler, role)


def test_a_stage_can_be_given_one_role_alone() -> None:
    """Processing needs a `Mapper` and nothing else: a mapping can be built and tested without
    writing a verifier."""

    class Passing(Mapper):
        vendor: ClassVar[str] = "passing"

        @override
        def normalize(self, delivery: Delivery) -> list[Emitted]:
            return []

    # Instantiable: nothing of the other roles is asked of it.
    assert Passing().normalize(None) == []  # type: ignore[arg-type]
    assert VendorHandler.__abstractmethods__ == frozenset({"verify", "identify", "normalize"})


def test_a_vendor_that_declares_its_event_fields_writes_no_identify() -> None:
    class Acme(base.FieldsIdentified):
        vendor: ClassVar[str] = "acme"
        event_fields: ClassVar[base.EventFields] = ACME_FIELDS

        @override
        def verify(self, check: base.Verification) -> base.Verdict:
            return base.Verdict(secret_index=0)

        @override
        def normalize(self, delivery: Delivery) -> list[Emitted]:
            return []

    body = b'{"event_id": "evt_9", "kind": "order.paid"}'
    request = base.InboundRequest(method="POST", url="https://x/", headers={}, body=body)
    source = SourceConfig(name="acme", vendor="acme", secrets=("s",))
    assert Acme().identify(request, source) == base.Identity("evt_9", "order.paid")
    not_an_object = base.InboundRequest(method="POST", url="https://x/", headers={}, body=b"[]")
    with pytest.raises(MalformedRequestError):
        Acme().identify(not_an_object, source)


# -- the helpers vendors read payloads with ---------------------------------------------------


@pytest.mark.parametrize("value", [None, "", 42, ["a"], "x" * 256])
def test_a_vendor_type_must_be_a_short_non_empty_string(value: object) -> None:
    with pytest.raises(MalformedRequestError, match="Acme type is missing or not a short string"):
        base.vendor_type(value, "Acme type")


def test_a_vendor_type_is_returned_as_sent_within_its_bound() -> None:
    assert base.vendor_type("payment.completed", "type") == "payment.completed"
    assert base.vendor_type("x" * 64, "type", max_length=64) == "x" * 64
    with pytest.raises(MalformedRequestError):
        base.vendor_type("x" * 65, "type", max_length=64)
    # Cleaning what a column cannot hold is the service's (`ingest.identity.clean_type`), so a
    # type with a NUL still identifies the delivery rather than sending it to the fallback.
    assert base.vendor_type("a\x00b", "type") == "a\x00b"


def test_event_fields_read_the_two_named_fields() -> None:
    event = {"event_id": "evt_1", "kind": "order.paid", "id": "not this one"}
    assert ACME_FIELDS.identity(event) == base.Identity(event_id="evt_1", event_type="order.paid")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"kind": "order.paid"}, "Acme event_id is missing"),
        ({"event_id": "evt\n1", "kind": "order.paid"}, "Acme event_id contains control"),
        ({"event_id": "evt_1"}, "Acme kind is missing"),
        ({"event_id": "evt_1", "kind": ["order.paid"]}, "Acme kind is missing"),
    ],
)
def test_event_fields_name_the_field_it_refuses(event: dict[str, object], message: str) -> None:
    with pytest.raises(MalformedRequestError, match=message):
        ACME_FIELDS.identity(event)


@pytest.mark.parametrize("value", [None, "", 7, ["https://example.com"]])
def test_required_text_refuses_what_a_domain_event_cannot_be_built_from(value: object) -> None:
    # A ValueError, not a 4xx: the delivery is verified and stored, then kept as `failed`.
    with pytest.raises(ValueError, match="Acme click's url is missing or not a string"):
        base.required_text(value, "Acme click's url")


def test_required_text_returns_the_text_as_sent() -> None:
    assert base.required_text(" https://example.com ", "url") == " https://example.com "


@pytest.mark.parametrize("value", [None, "", "yesterday", 1_700_000_000, "2026-13-01T00:00:00Z"])
def test_required_time_refuses_what_is_not_an_iso_8601_time(value: object) -> None:
    with pytest.raises(ValueError, match="Acme log date is missing or not an ISO 8601 time"):
        base.required_time(value, "Acme log date")


def test_required_time_reads_a_time_as_iso_time_does() -> None:
    moment = base.required_time("2026-12-02T10:00:00.123456789+01:00", "date")
    assert moment == base.iso_time("2026-12-02T09:00:00.123456Z")
    assert moment.utcoffset() == timedelta(0)


def _item_event(item: int) -> Emitted | list[Emitted]:
    if item == 2:
        raise KeyError("email")
    data = VendorPassthrough(vendor="acme", vendor_event_type="ping", payload={"n": item})
    one = Emitted(data=data, key=str(item), item_id=f"acme:{item}")
    return [one, one] if item == 3 else one


def test_map_items_flattens_what_each_item_becomes() -> None:
    assert [e.item_id for e in base.map_items([0, 1, 3], _item_event)] == [
        "acme:0",
        "acme:1",
        "acme:3",
        "acme:3",
    ]
    assert base.map_items([], _item_event) == []


def test_map_items_sets_a_failed_item_aside_and_maps_the_rest() -> None:
    with pytest.raises(base.PartlyMappedError) as caught:
        base.map_items(iter([0, 2, 1]), _item_event)
    assert [e.item_id for e in caught.value.emitted] == ["acme:0", "acme:1"]
    [(position, error)] = caught.value.failures
    assert (position, caught.value.total) == (1, 3)
    assert isinstance(error, KeyError)


def test_map_items_lets_a_passing_cause_retry_the_whole_delivery() -> None:
    def lookup_down(item: int) -> Emitted:
        raise TransientHandlerError("lookup timed out")

    with pytest.raises(TransientHandlerError):
        base.map_items([0, 1], lookup_down)


@pytest.mark.parametrize("value", [None, [], "{}", 3])
def test_required_object_refuses_anything_but_a_json_object(value: object) -> None:
    with pytest.raises(ValueError, match="Acme event's data is missing or not an object"):
        base.required_object(value, "Acme event's data")
    assert base.required_object({"id": 1}, "data") == {"id": 1}


def test_a_content_digest_is_stable_across_releases() -> None:
    """Ably, Pusher and SendGrid items without an id are deduplicated by this digest: a change
    to it would let every such item already in an inbox be published again on redelivery."""
    value = {"b": [1, "é"], "a": None}
    assert base.content_digest(value) == (
        "a44633ba036df25280e4fd9ef09da6f54dfe6d3611c755e31f993ab16f108f34"
    )
    assert base.content_digest({"a": None, "b": [1, "é"]}) == base.content_digest(value)


def test_a_body_digest_is_the_sha256_of_the_exact_bytes() -> None:
    request = base.InboundRequest(method="POST", url="https://x/", headers={}, body=b'{"a": 1}')
    assert request.body_digest() == (
        "f9d86028c6e0d64e225186f96acb69338b2c59764df79162107f5c4bb34d1310"
    )


# -- options models hold their own invariants ------------------------------------------------


def test_an_options_model_refuses_what_check_config_would(tmp_path: Path) -> None:
    """Options are the vendor's model wherever they are built (start-up, a simulator, a test),
    so what makes them unusable is the model's to refuse, not a separate start-up pass."""
    from ingest.handlers.aws_sns import SnsOptions  # noqa: PLC0415 - one vendor per case
    from ingest.handlers.gcs import GcsOptions  # noqa: PLC0415
    from ingest.handlers.header_token import HeaderTokenOptions  # noqa: PLC0415
    from ingest.handlers.paypal import PayPalOptions  # noqa: PLC0415
    from ingest.handlers.sendgrid import SendGridOptions  # noqa: PLC0415

    missing = str(tmp_path / "missing.pem")
    cases: list[tuple[type[BaseModel], dict[str, object], str]] = [
        (GcsOptions, {"audience": "a", "service_account_email": "s@x", "jwks": missing}, "no file"),
        (SendGridOptions, {"public_keys": ["not a key"]}, "public key"),
        (
            SnsOptions,
            {"topic_arns": ["a"], "certificates": {"https://evil.com/x.pem": missing}},
            "not an https SNS",
        ),
        (
            SnsOptions,
            {"topic_arns": ["a"], "certificates": {SNS_CERT_URL: missing}},
            "no file",
        ),
        (PayPalOptions, {"webhook_id": "W1", "certificates": {PAYPAL_CERT_URL: missing}}, "read"),
        (HeaderTokenOptions, {"tokens": ["t" * 16], "header": "x-hook-key"}, "unredacted"),
    ]
    for model, options, problem in cases:
        with pytest.raises(ValidationError, match=problem):
            model.model_validate(options)


def test_a_refused_option_is_named_by_its_place_without_pydantics_prefix(tmp_path: Path) -> None:
    source = SourceConfig(
        name="mail",
        vendor="sendgrid",
        options=RawOptions.of({"public_keys": [SENDGRID_KEY, "not a key"]}),
    )
    with pytest.raises(ConfigError, match=r"^source 'mail': public_keys\[1\]: ") as refused:
        HANDLERS["sendgrid"].check_config(source)
    assert "Value error" not in str(refused.value)


def test_a_required_header_is_missing_when_absent_or_blank_and_invalid_when_too_long() -> None:
    def inbound(**headers: str) -> base.InboundRequest:
        return base.InboundRequest(method="POST", url="https://x/", headers=headers, body=b"")

    assert (
        inbound(**{"stripe-signature": " t=1,v1=ab "}).required_header("Stripe-Signature")
        == "t=1,v1=ab"
    )
    for absent in (inbound(), inbound(**{"stripe-signature": "  "})):
        with pytest.raises(base.MissingSignatureError, match="Stripe-Signature header is missing"):
            absent.required_header("Stripe-Signature")
    long = inbound(**{"stripe-signature": "v" * 513})
    with pytest.raises(base.InvalidSignatureError, match="Stripe-Signature header is malformed"):
        long.required_header("Stripe-Signature", max_length=512)
