from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.auth0 import Auth0Handler
from ingest.handlers.base import (
    Delivery,
    Emitted,
    InvalidCredentialsError,
    MalformedRequestError,
    MissingCredentialsError,
    PartlyMappedError,
    RejectedRequestError,
    Verification,
)
from ingest.handlers.schemes.credentials import TokenCredentials
from ingest.schemas.identity import (
    LoginFailed,
    LoginSucceeded,
    SessionEnded,
    UserCreated,
    UserDeleted,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES
from tests.handlers.kit import URL, identify, request, verify

handler = Auth0Handler()
TOKEN = "auth0-stream-token-current"
OLD_TOKEN = "auth0-stream-token-previous"
NOW = 1_700_000_000
source = handler.check_config(
    SourceConfig(name="auth0", vendor="auth0", options=RawOptions.of({"tokens": [TOKEN]}))
)
rotating = handler.check_config(
    SourceConfig(
        name="auth0", vendor="auth0", options=RawOptions.of({"tokens": [OLD_TOKEN, TOKEN]})
    )
)

# Log stream events as Auth0 delivers them ({"log_id", "data"}), from the captures in Elastic's
# Auth0 log stream integration test data (trimmed of `details` we do not read).
LOGIN_SUCCESS: dict[str, Any] = {
    "log_id": "90020211104001515271334544008635532534914988032684720226",
    "data": {
        "date": "2021-11-04T00:15:10.706Z",
        "type": "s",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "client_id": "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB",
        "client_name": "Default App",
        "ip": "114.76.60.57",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
        "details": {
            "initiatedAt": 1635984900418,
            "completedAt": 1635984910705,
            "elapsedTime": 10287,
            "session_id": "m5SgtzMKxmeNBxj_kCfUUJhzrSdfvLFu",
            "stats": {"loginsCount": 4},
        },
        "hostname": "dev-yoj8axza.au.auth0.com",
        "user_id": "auth0|618223a4e3f49e006948565c",
        "user_name": "dev@test.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "log_id": "90020211104001515271334544008635532534914988032684720226",
    },
}
WRONG_PASSWORD: dict[str, Any] = {
    "log_id": "90020211103082515482106767167326018758436529088273317970",
    "data": {
        "date": "2021-11-03T08:25:14.466Z",
        "type": "fp",
        "description": "Wrong email or password.",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "client_id": "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB",
        "client_name": "Default App",
        "ip": "81.2.69.143",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
        "details": {"error": {"message": "Wrong email or password."}},
        "user_id": "auth0|61823277a44a21007221a59a",
        "user_name": "new@test.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "log_id": "90020211103082515482106767167326018758436529088273317970",
    },
}
UNKNOWN_USER: dict[str, Any] = {
    "log_id": "90020211103030725428115389447533113776256732300526485554",
    "data": {
        "date": "2021-11-03T03:07:24.384Z",
        "type": "fu",
        "description": "Wrong email or password.",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "client_id": "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB",
        "client_name": "Default App",
        "ip": "81.2.69.143",
        "user_agent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:93.0) Gecko/20100101 "
        "Firefox/93.0",
        "details": {"error": {"message": "Wrong email or password."}},
        "user_id": "",
        "user_name": "neo@gmail.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "log_id": "90020211103030725428115389447533113776256732300526485554",
    },
}
SIGNUP: dict[str, Any] = {
    "log_id": "90020211103032120540334468831529038137311930506436149346",
    "data": {
        "date": "2021-11-03T03:21:19.503Z",
        "type": "ss",
        "description": "",
        "connection": "Username-Password-Authentication",
        "connection_id": "con_1a5wCUmAs6VOU17n",
        "client_id": "360yuN1BXP4u3tBChK5VOgekgGJ7CwLL",
        "client_name": "All Applications",
        "ip": "35.160.3.103",
        "user_agent": "unknown",
        "user_id": "auth0|6182002f34f4dd006b05b5c7",
        "user_name": "neo@test.com",
        "strategy": "auth0",
        "strategy_type": "database",
        "log_id": "90020211103032120540334468831529038137311930506436149346",
    },
}
BATCH = json.dumps([LOGIN_SUCCESS, WRONG_PASSWORD, UNKNOWN_USER, SIGNUP]).encode()

# Auth0's event stream CloudEvent, after its event type reference (a0tenant/a0stream included).
USER_CREATED_CLOUDEVENT: dict[str, Any] = {
    "specversion": "1.0",
    "type": "user.created",
    "source": "urn:auth0:example.auth0app.com",
    "id": "evt_1234567890abcdef",
    "time": "2025-02-01T12:34:56Z",
    "data": {
        "object": {
            "user_id": "auth0|65f1c2d3e4a5b6c7d8e9f001",
            "email": "jane.doe@example.com",
            "email_verified": True,
            "family_name": "Doe",
            "given_name": "Jane",
            "name": "Jane Doe",
            "nickname": "jane.doe",
            "identities": [
                {
                    "connection": "Username-Password-Authentication",
                    "user_id": "65f1c2d3e4a5b6c7d8e9f001",
                    "provider": "auth0",
                    "isSocial": False,
                }
            ],
            "created_at": "2025-02-01T12:34:56.000Z",
            "updated_at": "2025-02-01T12:34:56.000Z",
        }
    },
    "a0tenant": "my-tenant",
    "a0stream": "est_1234567890abcdef",
}


def auth(value: str) -> dict[str, str]:
    return {"Authorization": value}


def delivery(body: bytes) -> Delivery:
    identity = identify(handler, body, {}, source)
    return Delivery(
        "auth0", "auth0", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


def normalize(body: bytes) -> list[Emitted]:
    return handler.normalize(delivery(body))


# -- credentials ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [TOKEN, f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  Bearer   {TOKEN}  "]
)
def test_the_token_is_accepted_bare_or_as_bearer(header: str) -> None:
    assert verify(handler, BATCH, auth(header), source, NOW).secret_index == 0


def test_a_token_configured_with_its_scheme_matches_verbatim() -> None:
    """Users following "enter `Bearer <token>` as the Authorization Token" configure it whole."""
    whole = handler.check_config(
        SourceConfig(
            name="a", vendor="auth0", options=RawOptions.of({"tokens": [f"Bearer {TOKEN}"]})
        )
    )
    assert verify(handler, BATCH, auth(f"Bearer {TOKEN}"), whole, NOW).secret_index == 0
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BATCH, auth(TOKEN), whole, NOW)


def test_rotation_reports_which_token_matched() -> None:
    assert verify(handler, BATCH, auth(TOKEN), rotating, NOW).secret_index == 1
    assert verify(handler, BATCH, auth(OLD_TOKEN), rotating, NOW).secret_index == 0


@pytest.mark.parametrize("headers", [{}, auth(""), auth("   ")])
def test_missing_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialsError):
        verify(handler, BATCH, headers, source, NOW)


@pytest.mark.parametrize(
    "header",
    [
        "wrong-token",
        TOKEN[:-1],
        TOKEN + "x",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN.upper()}",
        "Bearer",
        "Bearer ",
    ],
)
def test_wrong_credentials(header: str) -> None:
    with pytest.raises((InvalidCredentialsError, MissingCredentialsError)):
        verify(handler, BATCH, auth(header), source, NOW)


def on_the_wire(value: str) -> str:
    """A header as the service sees it: UTF-8 bytes on the wire, decoded as latin-1 by Starlette."""
    return value.encode("utf-8").decode("latin-1")


def test_non_ascii_credentials_are_compared_not_crashed() -> None:
    unicode_source = handler.check_config(
        SourceConfig(name="a", vendor="auth0", options=RawOptions.of({"tokens": ["clé-secrète"]}))
    )
    presented = auth(on_the_wire("clé-secrète"))
    assert verify(handler, BATCH, presented, unicode_source, NOW).secret_index == 0
    with pytest.raises(InvalidCredentialsError):
        verify(handler, BATCH, auth(on_the_wire("clé-secrète!")), unicode_source, NOW)
    with pytest.raises(InvalidCredentialsError):  # not latin-1: cannot have come over HTTP
        verify(handler, BATCH, auth("clé-secrète\u0100"), unicode_source, NOW)


CREDENTIAL_CODES = {"missing_credentials", "invalid_credentials", "malformed_request"}


def rejection(call: Callable[[], object]) -> RejectedRequestError | None:
    """The rejection `call` raised, if any; any other exception propagates and fails the test."""
    try:
        call()
    except RejectedRequestError as exc:
        return exc
    return None


def assert_only_credential_rejections(headers: Mapping[str, str], body: bytes = BATCH) -> None:
    """contract.assert_only_rejections, for a token scheme: its codes are the credential ones."""
    with pytest.raises(RejectedRequestError) as caught:
        handler.verify(Verification(request(body, headers), source, NOW, {}))
    assert caught.value.status in (400, 401)
    assert caught.value.code in CREDENTIAL_CODES


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_malformed_headers_are_rejected_not_crashed(value: str) -> None:
    assert_only_credential_rejections(auth(value))
    assert_only_credential_rejections(auth(f"Bearer {value}"))


@settings(max_examples=200, deadline=None)
@given(
    # The valid token too, so that random bodies get past verification into identification.
    authorization=st.none() | st.sampled_from([TOKEN, f"Bearer {TOKEN}"]) | st.text(max_size=300),
    body=st.binary(max_size=512) | st.sampled_from([BATCH, BATCH[:-1], BATCH + b"\n{}"]),
)
def test_random_requests_only_raise_rejections(authorization: str | None, body: bytes) -> None:
    headers = {} if authorization is None else auth(authorization)
    error = rejection(lambda: handler.verify(Verification(request(body, headers), source, NOW, {})))
    assert error is None or error.code in CREDENTIAL_CODES
    with contextlib.suppress(MalformedRequestError):
        handler.identify(request(body, headers), source)


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"tokens": []}, {"tokens": ["   "]}, {"tokens": [TOKEN], "header": "x-token"}],
)
def test_unusable_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="source 'auth0'") as caught:
        handler.check_config(
            SourceConfig(name="auth0", vendor="auth0", options=RawOptions.of(options))
        )
    assert TOKEN not in str(caught.value)


def test_secrets_are_refused_in_favour_of_tokens() -> None:
    with pytest.raises(ConfigError, match="'tokens'"):
        handler.check_config(
            SourceConfig(
                name="auth0",
                vendor="auth0",
                secrets=(TOKEN,),
                options=RawOptions.of({"tokens": ["x"]}),
            )
        )


# -- identification -------------------------------------------------------------------


def test_a_log_batch_is_identified_by_a_hash_of_its_body() -> None:
    identity = identify(handler, BATCH, {}, source)
    assert identity.event_id == hashlib.sha256(BATCH).hexdigest()
    assert identity.event_type == "log_stream"


def test_an_event_stream_cloudevent_is_identified_by_its_id() -> None:
    body = json.dumps(USER_CREATED_CLOUDEVENT).encode()
    identity = identify(handler, body, {}, source)
    assert (identity.event_id, identity.event_type) == ("evt_1234567890abcdef", "user.created")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"42",
        b'"text"',
        json.dumps({**USER_CREATED_CLOUDEVENT, "id": ""}).encode(),
        json.dumps({"specversion": "1.0", "id": "evt_1"}).encode(),
        b'{"log_id": "1"}\nnot json\n',
    ],
)
def test_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        identify(handler, body, {}, source)


# -- normalization --------------------------------------------------------------------


def test_a_log_batch_becomes_one_event_per_log_keyed_by_user() -> None:
    emitted = normalize(BATCH)
    assert [e.item_id for e in emitted] == [
        LOGIN_SUCCESS["log_id"],
        WRONG_PASSWORD["log_id"],
        UNKNOWN_USER["log_id"],
        SIGNUP["log_id"],
    ]
    assert [e.type for e in emitted] == [
        "identity.login.succeeded",
        "identity.login.failed",
        "identity.login.failed",
        "identity.user.created",
    ]
    login, wrong, unknown, signup = (e.data for e in emitted)
    assert isinstance(login, LoginSucceeded)
    assert login.user_id == "auth0|618223a4e3f49e006948565c" == emitted[0].key
    assert login.username == "dev@test.com"
    assert login.email is None  # user_name is what was typed, not a verified address
    assert login.session_id == "m5SgtzMKxmeNBxj_kCfUUJhzrSdfvLFu"
    assert login.ip == "114.76.60.57"
    assert login.application == "Default App"
    assert login.connection == "Username-Password-Authentication"
    assert login.occurred_at == datetime(2021, 11, 4, 0, 15, 10, 706000, tzinfo=UTC)
    assert emitted[0].time == login.occurred_at
    assert isinstance(wrong, LoginFailed)
    assert (wrong.failure_code, wrong.reason) == ("fp", "Wrong email or password.")
    assert wrong.user_id == "auth0|61823277a44a21007221a59a"
    assert isinstance(unknown, LoginFailed)
    assert unknown.user_id is None
    assert emitted[2].key == "neo@gmail.com"  # the username that was tried
    assert isinstance(signup, UserCreated)
    assert signup.user_id == "auth0|6182002f34f4dd006b05b5c7"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("sdu", UserDeleted),
        ("slo", SessionEnded),
        ("sens", LoginSucceeded),
        ("fcoa", LoginFailed),
    ],
)
def test_log_codes_map_by_auth0s_categories(code: str, expected: type[Any]) -> None:
    [event] = normalize(simulator(handler).sample(code))
    assert isinstance(event.data, expected)
    assert event.type == expected.event_type


@pytest.mark.parametrize("code", ["sapi", "fs", "ssa", "seacft"])
def test_other_log_codes_pass_through_per_item(code: str) -> None:
    body = simulator(handler).sample(code)
    [event] = normalize(body)
    assert event.type == f"auth0.{code}"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.vendor_event_type == code
    assert event.data.payload == json.loads(body)[0]
    assert event.item_id == json.loads(body)[0]["log_id"]


def test_json_lines_and_single_object_formats() -> None:
    lines = "\n".join(json.dumps(log) for log in (LOGIN_SUCCESS, SIGNUP)).encode() + b"\n"
    assert [e.item_id for e in normalize(lines)] == [LOGIN_SUCCESS["log_id"], SIGNUP["log_id"]]
    [single] = normalize(json.dumps(WRONG_PASSWORD).encode())
    assert single.type == "identity.login.failed"


def test_a_log_without_id_is_set_aside_and_the_stream_s_other_logs_still_mapped() -> None:
    """Processing publishes the others and keeps the delivery `failed` for a replay."""
    broken = {"data": {**SIGNUP["data"], "log_id": None}}
    with pytest.raises(PartlyMappedError) as caught:
        normalize(json.dumps([LOGIN_SUCCESS, broken]).encode())
    [(position, error)] = caught.value.failures
    assert position == 1
    assert "log_id" in str(error)
    assert [e.item_id for e in caught.value.emitted] == [LOGIN_SUCCESS["log_id"]]


def test_event_stream_user_created() -> None:
    [event] = normalize(json.dumps(USER_CREATED_CLOUDEVENT).encode())
    assert isinstance(event.data, UserCreated)
    assert event.type == "identity.user.created"
    assert event.key == "auth0|65f1c2d3e4a5b6c7d8e9f001" == event.data.user_id
    assert event.data.email == "jane.doe@example.com"
    assert event.data.name == "Jane Doe"
    assert event.data.provider_event_id == "evt_1234567890abcdef"
    assert event.data.occurred_at == datetime(2025, 2, 1, 12, 34, 56, tzinfo=UTC)
    assert event.item_id is None  # one event per delivery: deduplicated by the CloudEvent id


def test_early_access_cloudevent_names_are_understood() -> None:
    early = {
        **USER_CREATED_CLOUDEVENT,
        "type": "com.auth0.user.deleted",
        "spec_version": "1.0",
    }
    del early["specversion"]
    [event] = normalize(json.dumps(early).encode())
    assert isinstance(event.data, UserDeleted)


def test_unknown_cloudevent_types_pass_through() -> None:
    other = {**USER_CREATED_CLOUDEVENT, "type": "organization.created", "data": {"object": {}}}
    [event] = normalize(json.dumps(other).encode())
    assert event.type == "auth0.organization.created"
    assert isinstance(event.data, VendorPassthrough)


@pytest.mark.parametrize("event_type", ["user.created", "user.updated", "user.deleted"])
def test_cloudevent_samples_normalize(event_type: str) -> None:
    [event] = normalize(simulator(handler).sample(event_type))
    assert event.type == f"identity.{event_type}"


# -- sending --------------------------------------------------------------------------


def test_what_we_sign_we_accept() -> None:
    context = SigningContext(source=source, url=URL)
    logs = simulator(handler).sign(simulator(handler).sample("s"), context, NOW)
    assert logs.headers["Authorization"] == TOKEN  # log streams: the configured value verbatim
    assert verify(handler, logs.body, logs.headers, source, NOW).secret_index == 0
    event = simulator(handler).sign(simulator(handler).sample("user.created"), context, NOW)
    assert event.headers["Authorization"] == f"Bearer {TOKEN}"  # event streams: a Bearer token
    assert verify(handler, event.body, event.headers, source, NOW).secret_index == 0


def test_options_parse_to_the_model() -> None:
    assert isinstance(source.options, TokenCredentials)
    assert source.options.tokens == (TOKEN,)
