from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    RejectedRequestError,
)
from ingest.handlers.twilio import TwilioHandler
from ingest.schemas.messaging import (
    CallStatus,
    MessageDelivered,
    MessageReceived,
    MessageUndelivered,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import URL as KIT_URL
from tests.handlers.kit import identify, request, verify

handler = TwilioHandler()

# Twilio's documented example: the auth token, URL and parameters of the signature validation
# snippet in Twilio's docs and twilio-python's tests/unit/test_request_validator.py.
TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
DOC_JSON_BODY = b'{"property": "value", "boolean": true}'
DOC_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
URL = KIT_URL  # where the kit posts unless told otherwise

source = SourceConfig(name="twilio", vendor="twilio", secrets=(TOKEN,))


def form(params: dict[str, str] | list[tuple[str, str]]) -> bytes:
    return urlencode(params).encode()


def sig(value: str) -> dict[str, str]:
    return {"x-twilio-signature": value, "content-type": "application/x-www-form-urlencoded"}


def signed(
    body: bytes, url: str = URL, token: str = TOKEN, src: SourceConfig = source
) -> tuple[str, dict[str, str]]:
    """What `sign()` produces: the URL it posts to and its headers."""
    request_ = simulator(handler).sign(body, SigningContext(source=src, url=url, secret=token), 0)
    return request_.url, {k.lower(): v for k, v in request_.headers.items()}


# -- documented examples -----------------------------------------------------------------


def test_twilios_documented_example() -> None:
    verdict = verify(handler, form(DOC_PARAMS), sig(DOC_SIGNATURE), source, 0, url=DOC_URL)
    assert verdict.secret_index == 0


def test_twilio_docs_snippet_example() -> None:
    """The PHP snippet in Twilio's "Secure your webhooks" docs (caller +14158675310)."""
    params = {**DOC_PARAMS, "Caller": "+14158675310", "From": "+14158675310"}
    verdict = verify(
        handler, form(params), sig("GvWf1cFY/Q7PnoempGyD5oXAezc="), source, 0, url=DOC_URL
    )
    assert verdict.secret_index == 0


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        # twilio-python's vectors: signed with :443 / :80 although the URL has no port.
        (DOC_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        (DOC_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        # Signed without the port; we saw the default port.
        (DOC_URL.replace(".com", ".com:443"), DOC_SIGNATURE),
        # A non-default port, signed as seen.
        (
            DOC_URL.replace(".com", ".com:1234").replace("https", "http"),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
    ],
)
def test_default_port_added_or_removed_as_twilios_validators_do(url: str, signature: str) -> None:
    assert verify(handler, form(DOC_PARAMS), sig(signature), source, 0, url=url).secret_index == 0


def test_a_different_port_is_a_different_url() -> None:
    """twilio-python drops any port; we only drop the default one (use `public_url` behind a
    proxy), so a signature for one service is not accepted on another port of the host."""
    url = DOC_URL.replace(".com", ".com:1234")
    assert RequestValidator(TOKEN).validate(url, DOC_PARAMS, DOC_SIGNATURE)
    with pytest.raises(InvalidSignatureError):
        verify(handler, form(DOC_PARAMS), sig(DOC_SIGNATURE), source, 0, url=url)


def test_documented_json_body_example() -> None:
    url = f"{DOC_URL}&bodySHA256={DOC_BODY_HASH}"
    headers = {"x-twilio-signature": "a9nBmqA0ju/hNViExpshrM61xv4="}
    assert verify(handler, DOC_JSON_BODY, headers, source, 0, url=url).secret_index == 0


def test_documented_repeated_parameters_example() -> None:
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    headers = sig("IK+Dwps556ElfBT0I3Rgjkr1wJU=")
    assert verify(handler, form(params), headers, source, 0, url=DOC_URL).secret_index == 0


# -- the SDK, both ways --------------------------------------------------------------------


def test_what_the_sdk_signs_we_accept() -> None:
    body = simulator(handler).sample("message.delivered")
    params = dict(parse_qsl(body.decode()))
    signature = RequestValidator(TOKEN).compute_signature(URL, params)
    assert verify(handler, body, sig(signature), source, 0).secret_index == 0


def test_what_we_sign_the_sdk_accepts() -> None:
    body = simulator(handler).sample("call.completed")
    url, headers = signed(body)
    params = dict(parse_qsl(body.decode()))
    assert RequestValidator(TOKEN).validate(url, params, headers["x-twilio-signature"])


def test_json_body_we_sign_the_sdk_accepts_and_we_verify() -> None:
    body = json.dumps([{"id": "EV1", "type": "com.twilio.messaging.message.delivered"}]).encode()
    url, headers = signed(body)
    assert url.startswith(URL + "?bodySHA256=")
    assert RequestValidator(TOKEN).validate(url, body.decode(), headers["x-twilio-signature"])
    assert verify(handler, body, headers, source, 0, url=url).secret_index == 0


def test_shared_key_hmac_sha256_as_the_sdk_computes_it() -> None:
    body = simulator(handler).sample("message.delivered")
    params = dict(parse_qsl(body.decode()))
    signature = RequestValidator("shared-key-secret").compute_signature(
        URL, params, algorithm="HMAC_SHA256"
    )
    headers = {
        **sig(signature),
        "x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    rotating = SourceConfig(name="t", vendor="twilio", secrets=(TOKEN, "shared-key-secret"))
    assert verify(handler, body, headers, rotating, 0).secret_index == 1
    with pytest.raises(InvalidSignatureError):  # the same signature read as SHA-1 fails
        verify(handler, body, sig(signature), rotating, 0)


def test_unknown_algorithm_is_rejected() -> None:
    headers = {**sig(DOC_SIGNATURE), "x-twilio-webhooks-signature-settings": "algorithm=MD5"}
    with pytest.raises(InvalidSignatureError, match="algorithm"):
        verify(handler, form(DOC_PARAMS), headers, source, 0, url=DOC_URL)


# -- tampering ---------------------------------------------------------------------------


def test_tampered_parameter_is_rejected() -> None:
    params = {**DOC_PARAMS, "Digits": "9999"}
    with pytest.raises(InvalidSignatureError):
        verify(handler, form(params), sig(DOC_SIGNATURE), source, 0, url=DOC_URL)


def test_added_parameter_is_rejected() -> None:
    params = {**DOC_PARAMS, "Extra": ""}
    with pytest.raises(InvalidSignatureError):
        verify(handler, form(params), sig(DOC_SIGNATURE), source, 0, url=DOC_URL)


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com/other.php?foo=1&bar=2",
        "https://evil.example/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php",
    ],
)
def test_wrong_url_is_rejected(url: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, form(DOC_PARAMS), sig(DOC_SIGNATURE), source, 0, url=url)


def test_wrong_token_is_rejected() -> None:
    wrong = SourceConfig(name="t", vendor="twilio", secrets=("54321",))
    with pytest.raises(InvalidSignatureError):
        verify(handler, form(DOC_PARAMS), sig(DOC_SIGNATURE), wrong, 0, url=DOC_URL)


def test_json_body_must_match_its_hash() -> None:
    url = f"{DOC_URL}&bodySHA256={DOC_BODY_HASH}"
    headers = {"x-twilio-signature": "a9nBmqA0ju/hNViExpshrM61xv4="}
    with pytest.raises(InvalidSignatureError, match="bodySHA256"):
        verify(handler, DOC_JSON_BODY.replace(b"true", b"false"), headers, source, 0, url=url)


def test_json_body_without_a_hash_in_the_url_is_rejected() -> None:
    """Otherwise a signature over a URL alone would vouch for any body."""
    signature = RequestValidator(TOKEN).compute_signature(URL, {})
    with pytest.raises(InvalidSignatureError, match="bodySHA256"):
        verify(handler, b'{"forged": true}', sig(signature), source, 0)


def test_missing_signature() -> None:
    with pytest.raises(MissingSignatureError):
        verify(handler, form(DOC_PARAMS), {}, source, 0, url=DOC_URL)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    body = form(DOC_PARAMS)
    assert_only_rejections(handler, source, body, {"x-twilio-signature": value}, 0)
    headers = {"x-twilio-signature": DOC_SIGNATURE, "x-twilio-webhooks-signature-settings": value}
    assert_only_rejections(handler, source, body, headers, 0)


def test_non_utf8_form_body_is_malformed() -> None:
    with pytest.raises(MalformedRequestError):
        verify(handler, b"Body=\xff\xfe", sig(DOC_SIGNATURE), source, 0)


def test_rotation_reports_which_token_matched() -> None:
    rotating = SourceConfig(name="t", vendor="twilio", secrets=("old-token", TOKEN))
    verdict = verify(handler, form(DOC_PARAMS), sig(DOC_SIGNATURE), rotating, 0, url=DOC_URL)
    assert verdict.secret_index == 1


# -- public_url ----------------------------------------------------------------------------


def configured(**options: object) -> SourceConfig:
    raw = SourceConfig(
        name="twilio", vendor="twilio", secrets=(TOKEN,), options=RawOptions.of(options)
    )
    return handler.check_config(raw)


def test_public_url_behind_a_proxy() -> None:
    """Twilio signed its configured https URL; the app sees the proxy's internal http URL."""
    behind = configured(public_url="https://mycompany.com/myapp.php")
    internal = "http://10.0.0.7:8000/myapp.php?foo=1&bar=2"
    body = form(DOC_PARAMS)
    with pytest.raises(InvalidSignatureError):
        verify(handler, body, sig(DOC_SIGNATURE), source, 0, url=internal)
    assert verify(handler, body, sig(DOC_SIGNATURE), behind, 0, url=internal).secret_index == 0


def test_public_url_keeps_the_query_twilio_sent_including_body_hash() -> None:
    behind = configured(public_url="https://mycompany.com/myapp.php")
    internal = f"http://10.0.0.7:8000/webhooks/twilio?foo=1&bar=2&bodySHA256={DOC_BODY_HASH}"
    headers = {"x-twilio-signature": "a9nBmqA0ju/hNViExpshrM61xv4="}
    assert verify(handler, DOC_JSON_BODY, headers, behind, 0, url=internal).secret_index == 0


def test_sign_uses_public_url_and_posts_to_the_target() -> None:
    behind = configured(public_url="https://hooks.example.com/twilio")
    body = simulator(handler).sample("message.received")
    url, headers = signed(body, url="http://127.0.0.1:8000/webhooks/twilio", src=behind)
    assert url == "http://127.0.0.1:8000/webhooks/twilio"
    params = dict(parse_qsl(body.decode()))
    assert RequestValidator(TOKEN).validate(
        "https://hooks.example.com/twilio", params, headers["x-twilio-signature"]
    )
    assert verify(handler, body, headers, behind, 0, url=url).secret_index == 0


@pytest.mark.parametrize(
    "bad",
    ["ftp://x.example/p", "/webhooks/twilio", "https://x.example/p?a=1", "https://x.example:port/"],
)
def test_public_url_must_be_an_absolute_url_without_query(bad: str) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        configured(public_url=bad)


def test_public_url_fragment_is_dropped() -> None:
    behind = configured(public_url="https://mycompany.com/myapp.php#rc=5&rp=all")
    assert handler.signed_url(request(b"", {}, url="http://i/x?foo=1&bar=2"), behind) == DOC_URL


# -- identification and normalization ------------------------------------------------------


def test_each_status_of_a_message_is_its_own_event() -> None:
    body = simulator(handler).sample("message.delivered")
    params = dict(parse_qsl(body.decode()))
    delivered = identify(handler, body, {})
    sent = identify(handler, body.replace(b"=delivered", b"=sent"), {})
    assert delivered.event_id == f"{params['MessageSid']}:delivered"
    assert delivered.event_type == "message.delivered"
    assert sent.event_id == f"{params['MessageSid']}:sent"


def test_call_reports_are_keyed_by_sid_status_and_sequence() -> None:
    body = simulator(handler).sample("call.completed")
    params = dict(parse_qsl(body.decode()))
    identity = identify(handler, body, {})
    assert identity.event_id == f"{params['CallSid']}:completed:3"
    assert identity.event_type == "call.completed"


def test_events_without_a_sid_hash_their_parameters() -> None:
    params = {"EventType": "onMessageAdded", "ConversationSid": "CH1", "Body": "hi"}
    first = identify(handler, form(params), {})
    reordered = identify(handler, form(dict(reversed(params.items()))), {})
    assert first.event_type == "onMessageAdded"
    assert first.event_id == reordered.event_id
    with pytest.raises(MalformedRequestError):
        identify(handler, b"", {})


def test_event_streams_batch_is_identified_by_its_hash() -> None:
    body = b'[{"id": "EV1", "type": "com.twilio.messaging.message.delivered"}]'
    identity = identify(handler, body, {})
    assert identity.event_id == hashlib.sha256(body).hexdigest()
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"no": "type"}', {})


def test_incoming_messages_are_answered_with_empty_twiml() -> None:
    body = simulator(handler).sample("message.received")
    reply = handler.reply(request(body, {}), identify(handler, body, {}))
    assert reply is not None
    assert (reply.status, reply.content_type) == (200, "text/xml")
    assert reply.body.endswith(b"<Response></Response>")
    status = simulator(handler).sample("message.delivered")
    assert handler.reply(request(status, {}), identify(handler, status, {})) is None


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {})
    return Delivery(
        "twilio", "twilio", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def test_delivered_status_normalizes() -> None:
    body = simulator(handler).sample("message.delivered")
    params = dict(parse_qsl(body.decode()))
    [event] = handler.normalize(delivery(body))
    assert event.type == "messaging.message.delivered"
    assert isinstance(event.data, MessageDelivered)
    assert event.key == event.data.message_id == params["MessageSid"]
    assert (event.data.sender, event.data.recipient) == (params["From"], params["To"])


def test_inbound_message_carries_its_text() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("message.received")))
    assert isinstance(event.data, MessageReceived)
    assert event.data.body == "Hello from Twilio!"
    assert event.data.segments == 1


def test_undelivered_carries_the_error_code() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("message.undelivered")))
    assert isinstance(event.data, MessageUndelivered)
    assert event.data.error_code == "30003"


def test_call_status_normalizes_with_twilios_timestamp() -> None:
    params = {
        **dict(parse_qsl(simulator(handler).sample("call.completed").decode())),
        "Timestamp": "Mon, 16 Aug 2010 03:45:01 +0000",  # the format of Twilio's docs
    }
    [event] = handler.normalize(delivery(form(params)))
    assert event.type == "messaging.call.status"
    assert isinstance(event.data, CallStatus)
    assert event.data.status == "completed"
    assert event.data.duration_seconds == 17
    assert event.data.occurred_at == datetime(2010, 8, 16, 3, 45, 1, tzinfo=UTC)


def test_unmapped_status_passes_through() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("message.accepted")))
    assert event.type == "twilio.message.accepted"
    assert isinstance(event.data, VendorPassthrough)


def test_event_streams_items_get_their_own_ids() -> None:
    items = [
        {"id": "EV1", "type": "com.twilio.messaging.message.delivered", "data": {}},
        {"id": "EV2", "type": "com.twilio.messaging.message.failed", "data": {}},
    ]
    events = handler.normalize(delivery(json.dumps(items).encode()))
    assert [(e.type, e.item_id) for e in events] == [
        ("twilio.com.twilio.messaging.message.delivered", "EV1"),
        ("twilio.com.twilio.messaging.message.failed", "EV2"),
    ]


# -- property ----------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from(
    ["x-twilio-signature", "x-twilio-webhooks-signature-settings", "content-type"]
)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=200), max_size=3),
    body=st.one_of(st.binary(max_size=500), st.text(max_size=300).map(str.encode)),
    url=st.one_of(st.just(URL), st.text(max_size=80)),
)
def test_random_input_only_ever_raises_rejections(
    headers: dict[str, str], body: bytes, url: str
) -> None:
    with contextlib.suppress(RejectedRequestError):
        verify(handler, body, headers, source, 0, url=url)
    with contextlib.suppress(RejectedRequestError):
        identify(handler, body, headers)


def test_signature_compares_bytes_independently_of_the_sdk() -> None:
    """The HMAC recomputed by hand, as Twilio's docs describe it."""
    data = DOC_URL + "".join(k + DOC_PARAMS[k] for k in sorted(DOC_PARAMS))
    digest = hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == DOC_SIGNATURE
