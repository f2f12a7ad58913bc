from __future__ import annotations

import base64
import json
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks
import svix
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ingest.errors import ConfigError
from ingest.handlers.base import (
    InvalidSignatureError,
    MalformedRequestError,
    MissingSignatureError,
    TimestampOutOfToleranceError,
)
from ingest.handlers.standard_webhooks import StandardWebhooksHandler
from ingest.simulation import simulator
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.contract import HOSTILE_VALUES, assert_only_rejections
from tests.handlers.kit import identify, sign_headers, verify

handler = StandardWebhooksHandler()
# The example from the Standard Webhooks specification and its reference libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
source = SourceConfig(name="clerk", vendor="standard-webhooks", secrets=(SPEC_SECRET,))


def spec_headers(**override: str) -> dict[str, str]:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    return {**headers, **override}


def test_specification_vector() -> None:
    verdict = verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP)
    assert (verdict.secret_index, verdict.signed_at) == (0, SPEC_TIMESTAMP)


def test_svix_header_names_are_accepted() -> None:
    headers = {k.replace("webhook-", "svix-"): v for k, v in spec_headers().items()}
    assert verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP).secret_index == 0


def test_several_signatures_in_one_header() -> None:
    header = f"v1,Ym9ndXM= v1a,ZWQyNTUxOQ== {SPEC_SIGNATURE}"
    assert verify(
        handler, SPEC_BODY, spec_headers(**{"webhook-signature": header}), source, SPEC_TIMESTAMP
    )


def test_what_the_svix_library_signs_we_accept() -> None:
    body = simulator(handler).sample("user.created")
    now = datetime.now(UTC)
    signature = svix.Webhook(SPEC_SECRET).sign("msg_1", now, body.decode())
    headers = {
        "svix-id": "msg_1",
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }
    assert verify(handler, body, headers, source, time.time()).secret_index == 0


def test_what_we_sign_the_reference_library_accepts() -> None:
    body = simulator(handler).sample("user.created")
    headers = sign_headers(handler, body, SPEC_SECRET, time.time())
    assert standardwebhooks.Webhook(SPEC_SECRET).verify(body, headers)["type"] == "user.created"


def test_rotation() -> None:
    rotating = SourceConfig(
        name="c", vendor="standard-webhooks", secrets=("whsec_" + "QUJD" * 8, SPEC_SECRET)
    )
    assert verify(handler, SPEC_BODY, spec_headers(), rotating, SPEC_TIMESTAMP).secret_index == 1


def test_tampering_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, b'{"test": 2432232315}', spec_headers(), source, SPEC_TIMESTAMP)
    with pytest.raises(InvalidSignatureError):
        verify(
            handler, SPEC_BODY, spec_headers(**{"webhook-id": "msg_other"}), source, SPEC_TIMESTAMP
        )
    # Same signature presented with another timestamp: the timestamp is signed too.
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            SPEC_BODY,
            spec_headers(**{"webhook-timestamp": str(SPEC_TIMESTAMP + 1)}),
            source,
            SPEC_TIMESTAMP,
        )


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_tolerance_both_ways(skew: int) -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        verify(handler, SPEC_BODY, spec_headers(), source, SPEC_TIMESTAMP + skew)


def test_missing_signature() -> None:
    headers = spec_headers()
    del headers["webhook-signature"]
    with pytest.raises(MissingSignatureError):
        verify(handler, SPEC_BODY, headers, source, SPEC_TIMESTAMP)


@pytest.mark.parametrize("value", ["v1abc", "v1,@@@", "v1,", "v1,====", "v2,abc"])
def test_the_reference_librarys_trap_headers_are_401s(value: str) -> None:
    """standardwebhooks' own verify raises ValueError/binascii.Error on these (a 500 elsewhere)."""
    with pytest.raises(InvalidSignatureError):
        verify(
            handler, SPEC_BODY, spec_headers(**{"webhook-signature": value}), source, SPEC_TIMESTAMP
        )


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_malformed_headers_are_rejected_not_crashed(header: str, value: str) -> None:
    assert_only_rejections(
        handler, source, SPEC_BODY, spec_headers(**{header: value}), SPEC_TIMESTAMP
    )


def test_identify_reads_the_type_from_the_body() -> None:
    body = simulator(handler).sample("user.deleted")
    identity = identify(handler, body, {"webhook-id": "msg_9"})
    assert (identity.event_id, identity.event_type) == ("msg_9", "user.deleted")
    with pytest.raises(MalformedRequestError):
        identify(handler, json.dumps({"data": {}}).encode(), {"webhook-id": "msg_9"})


def test_a_secret_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="secrets\\[0\\]"):
        handler.check_config(
            SourceConfig(name="c", vendor="standard-webhooks", secrets=("whsec_@@@",))
        )


# -- v1a: ed25519 -------------------------------------------------------------------------
# No Standard Webhooks reference library implements v1a, and the spec's example header has no
# key to go with it. This vector is from an independent implementation's tests (Haskell
# `signet`, Signet.Unstable.Type.VerifierTest): id "i", timestamp 0, body "Hello, world!".
SIGNET_PUBLIC_KEY = "whpk_wuzPrKxPfWpJSsXgyg/MEoMGvjs5SjDO4ad6X4ZYqqg="
SIGNET_SIGNATURE = (
    "v1a,CV1O+PvrwXM42OMUX+tmm6bA3cS0tgLp0qo3YKuu0MGmBrsUhA0MHXF11HsEUJtPfTKs80WE7WUKVt9TueLDCQ=="
)
SIGNET_SECRET = "whsec_bXlzZWNyZXRrZXkxMjM0NQ=="
SIGNET_V1_SIGNATURE = "v1,IywpE5NXy+JdAScgR7j5Pt59GjmazD7iJuVsQoRZFyw="
# Svix's server serializes a signing key as whsk_ + base64(seed ‖ public key) and the matching
# whpk_ as base64 of the 32 raw public-key bytes (svix-webhooks server tests, EndpointSecret).
SVIX_PRIVATE_KEY = (
    "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
)
SVIX_PUBLIC_KEY = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="


def keyed(*public_keys: str, secrets: tuple[str, ...] = ()) -> SourceConfig:
    return handler.check_config(
        SourceConfig(
            name="sw",
            vendor="standard-webhooks",
            secrets=secrets,
            options=RawOptions.of({"public_keys": list(public_keys)}),
        )
    )


def whpk(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


def v1a(key: Ed25519PrivateKey, msg_id: str, timestamp: int, body: bytes) -> str:
    return "v1a," + base64.b64encode(key.sign(f"{msg_id}.{timestamp}.".encode() + body)).decode()


def signet_headers(signature: str = SIGNET_SIGNATURE) -> dict[str, str]:
    return {"webhook-id": "i", "webhook-timestamp": "0", "webhook-signature": signature}


def test_v1a_vector_from_an_independent_implementation() -> None:
    verdict = verify(handler, b"Hello, world!", signet_headers(), keyed(SIGNET_PUBLIC_KEY), 0)
    assert (verdict.secret_index, verdict.signed_at) == (0, 0)


def test_v1_vector_from_the_same_implementation() -> None:
    signet = SourceConfig(name="s", vendor="standard-webhooks", secrets=(SIGNET_SECRET,))
    headers = signet_headers(SIGNET_V1_SIGNATURE)
    assert verify(handler, b"Hello, world!", headers, signet, 0).secret_index == 0


def test_v1a_tampering_is_rejected() -> None:
    source_ = keyed(SIGNET_PUBLIC_KEY)
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"Hello, world?", signet_headers(), source_, 0)
    for header, value in (("webhook-id", "j"), ("webhook-timestamp", "1")):
        with pytest.raises(InvalidSignatureError):
            verify(handler, b"Hello, world!", {**signet_headers(), header: value}, source_, 0)
    flipped = base64.b64decode(SIGNET_SIGNATURE[4:])
    flipped = bytes([flipped[0] ^ 1]) + flipped[1:]
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            b"Hello, world!",
            signet_headers("v1a," + base64.b64encode(flipped).decode()),
            source_,
            0,
        )


def test_v1a_with_another_key_is_rejected() -> None:
    other = keyed(whpk(Ed25519PrivateKey.generate()))
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"Hello, world!", signet_headers(), other, 0)


def test_v1a_signature_is_not_accepted_by_a_secret_nor_v1_by_a_key() -> None:
    """A scheme's signature is only checked against that scheme's keys."""
    v1_only = SourceConfig(name="s", vendor="standard-webhooks", secrets=(SIGNET_SECRET,))
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"Hello, world!", signet_headers(), v1_only, 0)
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            b"Hello, world!",
            signet_headers(SIGNET_V1_SIGNATURE),
            keyed(SIGNET_PUBLIC_KEY),
            0,
        )


@pytest.mark.parametrize(
    "header",
    [
        "v1a,@@@",
        "v1a,",
        "v1a",
        "v1a,AAAA",  # decodes, but is not 64 bytes
        "v1a," + base64.b64encode(bytes(63)).decode(),
        "v1a," + base64.b64encode(bytes(64)).decode(),
        "v1a," + base64.b64encode(bytes(65)).decode(),
        "v1b," + SIGNET_SIGNATURE[4:],
        SIGNET_SIGNATURE + "=",
    ],
)
def test_malformed_v1a_signatures_are_401s(header: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify(handler, b"Hello, world!", signet_headers(header), keyed(SIGNET_PUBLIC_KEY), 0)


@pytest.mark.parametrize(
    "header",
    [
        f"v1,Ym9ndXM= {SIGNET_SIGNATURE}",
        f"v1a,@@@ v1,@@@ {SIGNET_SIGNATURE}",
        f"{SIGNET_SIGNATURE} v1,Ym9ndXM=",
        f"v2,abc {SIGNET_SIGNATURE}",
    ],
)
def test_mixed_headers_find_the_v1a_signature(header: str) -> None:
    verdict = verify(handler, b"Hello, world!", signet_headers(header), keyed(SIGNET_PUBLIC_KEY), 0)
    assert verdict.secret_index == 0


def test_mixed_header_with_both_schemes_valid_reports_the_secret_first() -> None:
    both = keyed(SIGNET_PUBLIC_KEY, secrets=(SIGNET_SECRET,))
    header = f"{SIGNET_SIGNATURE} {SIGNET_V1_SIGNATURE}"
    assert verify(handler, b"Hello, world!", signet_headers(header), both, 0).secret_index == 0
    # Only the v1a signature valid: public keys are numbered after the secrets.
    assert verify(handler, b"Hello, world!", signet_headers(), both, 0).secret_index == 1


def test_v1a_rotation_numbers_keys_after_secrets() -> None:
    old = Ed25519PrivateKey.generate()
    rotating = keyed(whpk(old), SIGNET_PUBLIC_KEY, secrets=("whsec_" + "QUJD" * 8, SPEC_SECRET))
    verdict = verify(handler, b"Hello, world!", signet_headers(), rotating, 0)
    assert verdict.secret_index == 3
    headers = signet_headers(v1a(old, "i", 0, b"Hello, world!"))
    assert verify(handler, b"Hello, world!", headers, rotating, 0).secret_index == 2


def test_v1a_timestamp_tolerance_both_ways() -> None:
    key = Ed25519PrivateKey.generate()
    now = 1_700_000_000
    for skew in (-301, 301):
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now + skew),
            "webhook-signature": v1a(key, "msg_1", now + skew, SPEC_BODY),
        }
        with pytest.raises(TimestampOutOfToleranceError):
            verify(handler, SPEC_BODY, headers, keyed(whpk(key)), now)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("header", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_malformed_headers_with_public_keys_are_rejected_not_crashed(
    header: str, value: str
) -> None:
    assert_only_rejections(
        handler,
        keyed(SIGNET_PUBLIC_KEY, secrets=(SIGNET_SECRET,)),
        b"Hello, world!",
        {**signet_headers(), header: value},
        0,
    )


def test_a_source_needs_secrets_or_public_keys() -> None:
    with pytest.raises(ConfigError, match=r"'secrets'.*'public_keys'"):
        handler.check_config(SourceConfig(name="c", vendor="standard-webhooks"))
    assert keyed(SIGNET_PUBLIC_KEY).secrets == ()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (SVIX_PRIVATE_KEY, "private"),
        ("wuzPrKxPfWpJSsXgyg/MEoMGvjs5SjDO4ad6X4ZYqqg=", "not a whpk_"),  # prefix missing
        ("whpk_@@@", "not a whpk_"),
        ("whpk_" + base64.b64encode(bytes(31)).decode(), "not a whpk_"),
        ("whpk_" + base64.b64encode(bytes(64)).decode(), "not a whpk_"),
        (SPEC_SECRET, "not a whpk_"),
    ],
)
def test_unusable_public_keys_are_config_errors_that_do_not_echo_the_key(
    key: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=r"public_keys\[1\]") as caught:
        keyed(SIGNET_PUBLIC_KEY, key)
    assert problem in str(caught.value)
    assert key not in str(caught.value)


def test_unknown_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="public_key"):
        handler.check_config(
            SourceConfig(
                name="c",
                vendor="standard-webhooks",
                secrets=(SPEC_SECRET,),
                options=RawOptions.of({"public_key": SIGNET_PUBLIC_KEY}),
            )
        )


def test_generated_keys_sign_v1a_that_verifies(tmp_path: Path) -> None:
    snippet = simulator(handler).generate_keys(tmp_path)
    private = tmp_path / "standard-webhooks" / "private.whsk"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("whsk_")
    public = (tmp_path / "standard-webhooks" / "public.whpk").read_text().strip()
    assert public in snippet
    assert "public_keys:" in snippet
    source_ = keyed(public)
    body = simulator(handler).sample("user.updated")
    now = time.time()
    signed = simulator(handler).sign(
        body, SigningContext(source=source_, url="https://x", key_dir=tmp_path), now
    )
    assert signed.headers["webhook-signature"].startswith("v1a,")
    assert verify(handler, body, signed.headers, source_, now).secret_index == 0
    # Generating again keeps the pair that sources already trust.
    assert public in simulator(handler).generate_keys(tmp_path)


def test_svix_serialized_private_keys_sign_for_their_public_key(tmp_path: Path) -> None:
    (tmp_path / "standard-webhooks").mkdir()
    (tmp_path / "standard-webhooks" / "private.whsk").write_text(SVIX_PRIVATE_KEY)
    source_ = keyed(SVIX_PUBLIC_KEY)
    now = time.time()
    signed = simulator(handler).sign(
        SPEC_BODY, SigningContext(source=source_, url="https://x", key_dir=tmp_path), now
    )
    assert verify(handler, SPEC_BODY, signed.headers, source_, now).secret_index == 0


def test_a_private_key_whose_halves_disagree_is_refused(tmp_path: Path) -> None:
    raw = base64.b64decode(SVIX_PRIVATE_KEY.removeprefix("whsk_"))
    (tmp_path / "standard-webhooks").mkdir()
    (tmp_path / "standard-webhooks" / "private.whsk").write_text(
        "whsk_" + base64.b64encode(raw[:32] + bytes(32)).decode()
    )
    context = SigningContext(source=keyed(SVIX_PUBLIC_KEY), url="https://x", key_dir=tmp_path)
    with pytest.raises(ConfigError, match="public half"):
        simulator(handler).sign(SPEC_BODY, context, time.time())


def test_sign_with_secret_and_key_sends_both_and_the_reference_library_accepts(
    tmp_path: Path,
) -> None:
    simulator(handler).generate_keys(tmp_path)
    public = (tmp_path / "standard-webhooks" / "public.whpk").read_text().strip()
    both = keyed(public, secrets=(SPEC_SECRET,))
    body = simulator(handler).sample("user.created")
    now = time.time()
    signed = simulator(handler).sign(
        body,
        SigningContext(source=both, url="https://x", secret=SPEC_SECRET, key_dir=tmp_path),
        now,
    )
    versions = [entry.partition(",")[0] for entry in signed.headers["webhook-signature"].split()]
    assert versions == ["v1", "v1a"]
    assert standardwebhooks.Webhook(SPEC_SECRET).verify(body, signed.headers)["type"]
    assert verify(handler, body, signed.headers, both, now).secret_index == 0
    only_v1a = {
        **signed.headers,
        "webhook-signature": signed.headers["webhook-signature"].split()[1],
    }
    assert verify(handler, body, only_v1a, both, now).secret_index == 1


def test_sign_without_a_secret_or_a_key_says_what_to_do(tmp_path: Path) -> None:
    context = SigningContext(source=keyed(SIGNET_PUBLIC_KEY), url="https://x", key_dir=tmp_path)
    with pytest.raises(ConfigError, match="ingest keys generate standard-webhooks"):
        simulator(handler).sign(SPEC_BODY, context, time.time())


def test_a_webhook_id_that_is_not_utf8_encodable_is_rejected() -> None:
    """Found by the property tests: the library raised UnicodeEncodeError signing a lone
    surrogate (never off the wire, but verification must only ever reject)."""
    with pytest.raises(InvalidSignatureError):
        verify(
            handler,
            SPEC_BODY,
            spec_headers(**{"webhook-id": "msg_\ud800"}),
            source,
            SPEC_TIMESTAMP,
        )
