from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.postmark import PostmarkHandler, dedup_key
from ingest.schemas.email import (
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailDelivered,
    EmailOpened,
    EmailUnsubscribed,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = PostmarkHandler()
NOW = 1_700_000_000
CURRENT = {"username": "postmark", "password": "correct horse battery staple"}
NEXT = {"username": "postmark", "password": "next-rotation-password"}
source = SourceConfig(
    name="postmark", vendor="postmark", options=RawOptions.of({"basic_auth": [CURRENT]})
)
rotating = SourceConfig(
    name="postmark", vendor="postmark", options=RawOptions.of({"basic_auth": [NEXT, CURRENT]})
)

# Postmark's documented Delivery webhook example
# (postmarkapp.com/developer/webhooks/delivery-webhook).
DOC_DELIVERY = json.dumps(
    {
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com",
        "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
        "Details": "Test delivery webhook details",
        "Tag": "welcome-email",
        "ServerID": 23,
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "RecordType": "Delivery",
        "MessageStream": "outbound",
    }
).encode()


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {}, source)
    return Delivery(
        "postmark", "postmark", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


# -- credentials ----------------------------------------------------------------------------------


def test_credentials_in_the_url_are_accepted() -> None:
    """Postmark sends the URL's user:password as Basic auth, exactly as `sign` builds it."""
    context = SigningContext(source=source, url=URL)
    headers = simulator(handler).sign(DOC_DELIVERY, context, NOW).headers
    assert (
        headers["Authorization"] == basic(CURRENT["username"], CURRENT["password"])["Authorization"]
    )
    assert verify(handler, DOC_DELIVERY, headers, source, NOW).secret_index == 0


def test_rotation_reports_the_matching_credential() -> None:
    headers = basic(CURRENT["username"], CURRENT["password"])
    assert verify(handler, DOC_DELIVERY, headers, rotating, NOW).secret_index == 1


def test_password_containing_a_colon_is_split_at_the_first_colon() -> None:
    colon = SourceConfig(
        name="p",
        vendor="postmark",
        options=RawOptions.of({"basic_auth": [{"username": "u", "password": "a:b"}]}),
    )
    assert verify(handler, DOC_DELIVERY, basic("u", "a:b"), colon, NOW).secret_index == 0


def test_scheme_is_case_insensitive() -> None:
    token = basic(CURRENT["username"], CURRENT["password"])["Authorization"].split()[1]
    assert verify(handler, DOC_DELIVERY, {"Authorization": f"basic {token}"}, source, NOW)


def test_missing_credentials() -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, DOC_DELIVERY, {}, source, NOW)


@pytest.mark.parametrize(
    ("username", "password"),
    [("postmark", "wrong"), ("someone", CURRENT["password"]), ("", ""), ("postmark", "")],
)
def test_wrong_credentials(username: str, password: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, DOC_DELIVERY, basic(username, password), source, NOW)


def test_bearer_is_not_basic() -> None:
    with pytest.raises(InvalidCredentialsError):
        verify(handler, DOC_DELIVERY, {"Authorization": "Bearer abc"}, source, NOW)


@pytest.mark.parametrize("value", [*HOSTILE_VALUES, "Basic é", "Basic @@@", "Basic dXNlcg=="])
def test_malformed_authorization_is_rejected_not_crashed(value: str) -> None:
    # The shared contract helper lists signature codes only; Basic auth answers with the
    # credential codes, so the same check is spelled out here.
    with pytest.raises(RejectedRequestError) as caught:
        handler.verify(
            Verification(request(DOC_DELIVERY, {"Authorization": value}), source, NOW, {})
        )
    assert caught.value.status == 401
    assert caught.value.code in {"missing_credentials", "invalid_credentials"}


@settings(max_examples=200, deadline=None)
@given(authorization=st.text(max_size=300), body=st.binary(max_size=200))
def test_property_random_input_only_rejects(authorization: str, body: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        handler.verify(
            Verification(request(body, {"Authorization": authorization}), source, NOW, {})
        )


@settings(max_examples=200, deadline=None)
@given(username=st.text(max_size=40), password=st.text(max_size=40))
def test_property_random_basic_credentials_only_reject(username: str, password: str) -> None:
    with pytest.raises(RejectedRequestError):
        handler.verify(
            Verification(request(DOC_DELIVERY, basic(username, password)), source, NOW, {})
        )


def test_basic_auth_option_is_required_and_checked() -> None:
    with pytest.raises(ConfigError, match="basic_auth"):
        handler.check_config(SourceConfig(name="p", vendor="postmark"))
    with pytest.raises(ConfigError, match="password"):
        handler.check_config(
            SourceConfig(
                name="p",
                vendor="postmark",
                options=RawOptions.of({"basic_auth": [{"username": "u"}]}),
            )
        )


# -- identify and normalize -----------------------------------------------------------------------


def test_documented_delivery_normalizes() -> None:
    identity = identify(handler, DOC_DELIVERY, {}, source)
    assert identity.event_type == "Delivery"
    assert identity.event_id == "Delivery:883953f4-6105-42a2-a16a-77a8eac79483:john@example.com"
    [event] = handler.normalize(delivery(DOC_DELIVERY))
    assert event.type == "email.delivered"
    assert isinstance(event.data, EmailDelivered)
    assert event.data.message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
    assert event.data.recipient == "john@example.com"
    assert event.data.tags == ["welcome-email"]
    assert event.data.metadata == {"a_key": "a_value", "b_key": "b_value"}
    # Seven fractional digits (.NET) are read, to the microsecond.
    assert event.data.occurred_at == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    assert event.key == "john@example.com"


def test_bounce_types() -> None:
    record = json.loads(simulator(handler).sample("Bounce"))
    [hard] = handler.normalize(delivery(json.dumps(record).encode()))
    assert isinstance(hard.data, EmailBounced)
    assert hard.data.bounce_type == "hard"
    assert hard.data.vendor_bounce_type == "HardBounce"
    assert hard.data.event_id == str(record["ID"])
    assert identify(handler, json.dumps(record).encode(), {}).event_id == f"Bounce:{record['ID']}"
    for postmark_type, expected in (
        ("SoftBounce", "soft"),
        ("Transient", "soft"),
        ("DnsError", "soft"),
        ("Unknown", "undetermined"),
    ):
        record["Type"] = postmark_type
        [event] = handler.normalize(delivery(json.dumps(record).encode()))
        assert isinstance(event.data, EmailBounced)
        assert event.data.bounce_type == expected


def test_spam_complaint_open_click() -> None:
    [complaint] = handler.normalize(delivery(simulator(handler).sample("SpamComplaint")))
    assert isinstance(complaint.data, EmailComplained)
    [opened] = handler.normalize(delivery(simulator(handler).sample("Open")))
    assert isinstance(opened.data, EmailOpened)
    assert opened.data.ip == "8.8.8.8"
    [clicked] = handler.normalize(delivery(simulator(handler).sample("Click")))
    assert isinstance(clicked.data, EmailClicked)
    assert clicked.data.url == "https://example.com"


def test_opens_of_one_message_are_distinct_events_but_a_retry_is_not() -> None:
    first = json.loads(simulator(handler).sample("Open"))
    again = {**first, "ReceivedAt": "2030-01-01T00:00:00Z"}
    assert dedup_key("Open", first) != dedup_key("Open", again)
    assert dedup_key("Open", first) == dedup_key("Open", dict(first))


def test_subscription_change_manual_suppression_is_an_unsubscribe() -> None:
    [event] = handler.normalize(delivery(simulator(handler).sample("SubscriptionChange")))
    assert isinstance(event.data, EmailUnsubscribed)
    assert event.data.recipient == "bounced-address@wildbit.com"
    reactivated = {
        **json.loads(simulator(handler).sample("SubscriptionChange")),
        "SuppressSending": False,
    }
    [passed] = handler.normalize(delivery(json.dumps(reactivated).encode()))
    assert passed.type == "postmark.SubscriptionChange"
    assert isinstance(passed.data, VendorPassthrough)


def test_subscription_change_without_message_id_has_a_key() -> None:
    record = {**json.loads(simulator(handler).sample("SubscriptionChange")), "MessageID": None}
    identity = identify(handler, json.dumps(record).encode(), {})
    assert identity.event_id.startswith("SubscriptionChange:-:bounced-address@wildbit.com:")


def test_long_keys_are_hashed_to_fit() -> None:
    record = {
        **json.loads(simulator(handler).sample("Open")),
        "Recipient": "a" * 300 + "@example.com",
    }
    key = dedup_key("Open", record)
    assert len(key) <= 255
    assert key.startswith("Open:sha256:")


def test_identify_needs_a_record_type() -> None:
    with pytest.raises(MalformedRequestError):
        identify(handler, b'{"MessageID": "x"}', {})
    with pytest.raises(MalformedRequestError):
        identify(handler, b"[]", {})


def test_unknown_record_type_passes_through() -> None:
    body = json.dumps({"RecordType": "Inbound", "MessageID": "m"}).encode()
    [event] = handler.normalize(delivery(body))
    assert event.type == "postmark.Inbound"
