from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.handlers.aws_sns import (
    LOCAL_CERT_URL,
    LOCAL_TOPIC_ARN,
    AwsSnsHandler,
    allowed_sns_url,
    string_to_sign,
)
from ingest.handlers.base import (
    Delivery,
    InvalidCredentialsError,
    InvalidSignatureError,
    MalformedRequestError,
    RejectedRequestError,
    TimestampOutOfToleranceError,
    Verification,
)
from ingest.schemas.email import (
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailDelivered,
    EmailOpened,
)
from ingest.schemas.passthrough import VendorPassthrough
from ingest.schemas.storage import StorageObjectCreated, StorageObjectDeleted
from ingest.simulation import simulator
from ingest.simulation.aws_sns import make_certificate
from ingest.simulation.base import SigningContext
from ingest.sources import RawOptions, SourceConfig
from tests.handlers.kit import URL, request

handler = AwsSnsHandler()

# AWS's own fixtures (aws-php-sns-message-validator, tests/FunctionalValidationsTest.php): real
# messages SNS signed on 2022-07-28 with v1 and v2, with and without Subject, and the SNS
# certificate they were signed with (valid 2021-09-07 to 2022-08-17).
AWS_CERT_URL = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
AWS_CERT = b"""-----BEGIN CERTIFICATE-----
MIIF1zCCBL+gAwIBAgIQB9pYWG3Mi7xej22g9pobJTANBgkqhkiG9w0BAQsFADBG
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRUwEwYDVQQLEwxTZXJ2ZXIg
Q0EgMUIxDzANBgNVBAMTBkFtYXpvbjAeFw0yMTA5MDcwMDAwMDBaFw0yMjA4MTcy
MzU5NTlaMBwxGjAYBgNVBAMTEXNucy5hbWF6b25hd3MuY29tMIIBIjANBgkqhkiG
9w0BAQEFAAOCAQ8AMIIBCgKCAQEAutFqueT3XgP13udzxE6UpbdjOtVO5DwoMpSM
iDNMnGzF1TYH5/R2LPUOBeTB0SkKnR4kpNcUZhicpGD4aKciz/GEZ6wu65xncfT9
H/KBOQwoXYTuClHwp6fYpGzcGFaFoEYMnijL/o4qmTSd+ukglQUgKpsDw4ofw6rU
m2CttJo+GQSNQ9NfGR1h/0J+zsApkeSYrXRx5wNlu87z8os1C/6PBrUHwt3xXeaf
Xzfwut8aRRYsS8BySOA9DAgLfNHlfdQCjKPXKrG/ussgReyWD6n/HH+j7Uha3xos
TzQqJifcxlTq6MxWdPR6fDaJNvqw6DOE7UjUNxHguXHlVfxhlQIDAQABo4IC6TCC
AuUwHwYDVR0jBBgwFoAUWaRmBlKge5WSPKOUByeWdFv5PdAwHQYDVR0OBBYEFAqz
C+vyouneE7mWWLbi9i0UsWUbMBwGA1UdEQQVMBOCEXNucy5hbWF6b25hd3MuY29t
MA4GA1UdDwEB/wQEAwIFoDAdBgNVHSUEFjAUBggrBgEFBQcDAQYIKwYBBQUHAwIw
OwYDVR0fBDQwMjAwoC6gLIYqaHR0cDovL2NybC5zY2ExYi5hbWF6b250cnVzdC5j
b20vc2NhMWIuY3JsMBMGA1UdIAQMMAowCAYGZ4EMAQIBMHUGCCsGAQUFBwEBBGkw
ZzAtBggrBgEFBQcwAYYhaHR0cDovL29jc3Auc2NhMWIuYW1hem9udHJ1c3QuY29t
MDYGCCsGAQUFBzAChipodHRwOi8vY3J0LnNjYTFiLmFtYXpvbnRydXN0LmNvbS9z
Y2ExYi5jcnQwDAYDVR0TAQH/BAIwADCCAX0GCisGAQQB1nkCBAIEggFtBIIBaQFn
AHYAKXm+8J45OSHwVnOfY6V35b5XfZxgCvj5TV0mXCVdx4QAAAF7vfDVkQAABAMA
RzBFAiEA2XfHuy36aqRFiaL8c3md2mH451go8707+fRE0pEdSRACIE/g5FXTUXUZ
PFcmOhm9TZ+uMY1i4CIQ/CKVWln6C3t+AHYAUaOw9f0BeZxWbbg3eI8MpHrMGyfL
956IQpoN/tSLBeUAAAF7vfDVjAAABAMARzBFAiBF1MhhFP0+FQt3daDFfMYoWwnr
muTInrjNpwfzlvQBugIhAPYadFzr+LaxSJoiZEbEHBvTts7bT0M3eCQONA2O7w6n
AHUAQcjKsd8iRkoQxqE6CUKHXk4xixsD6+tLx2jwkGKWBvYAAAF7vfDVdAAABAMA
RjBEAiAtPapmFAuA71ih4NoSd5hJelzAltNQpxDMcDfDyHyU8gIgWxmaa6+2KbBu
9xdv379zvnJACFR7jc+4asl08Dn4aagwDQYJKoZIhvcNAQELBQADggEBAA54QX0u
oFWXfMmv02CGZv4NWo5TapyeeixQ2kKpZHRdVZjxZrw+hoF6HD7P3kGjH8ztyJll
tDxB0qgMltbPhQdScwhA6iTgoaBYqEUC/VHKd4PmmPT6yIsM36NBZVmkGlzl5uNo
/dBgBaG0SsVJnhr5zro3c2quC7n6fVGEZhf/UgQwRnnvThnvbNKguglDMq4uEqv8
njKyleht+glkcmXO0m9qLKt6BOS0amy6U2GlAwRn0Wx02ndJtnRCSC6kPuRWK/SQ
FEjB7gCK4hdKaAOuWdZpI55vF6ifOeM8toC3g7ofO8qLTnJupAG+ZitY5J3cvHWr
HqOUdKigPDHYLRo=
-----END CERTIFICATE-----
"""
AWS_TOPIC = "arn:aws:sns:us-east-2:295079676684:publish-and-verify-"


def aws_fixture(
    message_id: str, topic: str, timestamp: str, version: str, signature: str, subject: bool
) -> dict[str, Any]:
    message = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": AWS_TOPIC + topic,
        "Message": "Hello world",
        "Timestamp": timestamp,
        "SignatureVersion": version,
        "Signature": signature,
        "SigningCertURL": AWS_CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe",
    }
    if subject:
        message["Subject"] = "Hello world"
    return message


AWS_FIXTURES = [
    aws_fixture(
        "792cda85-518f-5dd3-9163-81d851212f3a",
        "892f85fe-4836-424d-8188-ab85bef0f362",
        "2022-07-28T21:23:58.317Z",
        "1",
        "ghtf+deOBAzHJJZ6s6CdRLfTQAlcGzq9naoFM1wi0CJiq//uVRuZnamrkWNF0fhouMFvuLVRwcz8PZLUMSfnmd5Vp"
        "dTKpTyiKmy1qJAZXma0w+yi7G+I33hD1Jyk1Nbym2n0kqp3fVu2aoooiN2ZeLAT2bH0/BtjLSfN1yAOKNoprco4qV"
        "9gGUZinXJdj9a1YdNhDR2jKi33ldlsVtEXAtiaDklGEk7DgRKX38GerBPiLg3FdtgY6KC7cdeGpU/dGK+4hjc83Iv"
        "e1HoFkAwqhpgInM2sMytBosoiXfCmOKmU4xeGD0gHDNZTlJUJQDlzw8Eag0H9f/5zXF9d3uy0YQ==",
        subject=False,
    ),
    aws_fixture(
        "17dea24b-55c2-540b-8362-f916557af765",
        "62674b1d-4295-426b-88e7-5fb75652a04e",
        "2022-07-28T21:24:08.324Z",
        "2",
        "CXVqp9PfZAL+4JHS3Zxo1PFbQsvnOjvmYhtIf17TWpwc+iIVas8kZ8GopuzVzVMdatE7rCl/O4P91Zp05Dwz8lk8d"
        "Lhfp8gSu3Njlzxlyrmzo9x3va3Jb7zFnedgS2GKnZWHGBdwTXho+TosNUE+3e10OMSlwN5XGDwX7+R3WL+rn+AXmF"
        "Aqp3alg27sYa55h1dLE9cGszGPjScPdtF3BmZsUDMx9wSdNKsCk+vSvE8yBjnCmUl7laSFj3LzPVrlSwgNYCF3kYn"
        "NAkah7NplK4SFhJYLwS0HCVCQJKa8rVbQLf9cBTu60U402mrgy0bN8xWoyimzbYbrOMJjalqkUg==",
        subject=False,
    ),
    aws_fixture(
        "11405cc3-9ac7-56d5-b45d-079e8f7a8edf",
        "6e11fed2-fcdf-4c52-9dc4-36ef43f37f84",
        "2022-07-28T22:53:49.654Z",
        "1",
        "AItkS26d8yvnIKJevdirIPW7eM/yKbZy3/CF2EreCHmXWB3etWaV5Fb7SYpGABMpugpDZzNyGY1wCVWaopDoQ+7Q/"
        "kI2TpDu8bw1eExbi8U3kduvc/2m2fIrI4gDEY8/v3nzoLcr8pPodqMzrX6SzQou4klfaqbNK+rFmH0LVf2Q1VyORO"
        "ODoSXmo4jg2Yu12jfxccBl96Drr/ihq4MJ4OcrWh6UzXXlVYjJHx2Ui4anNwNEb+Z4C2CAF1DjQUbhDtaoajDBPY+"
        "4d9C1OwbqwQpXsd6tyVcI9nFyEsVK8lfnAV+/3GZQcdXHbIUYBRGcBa4X5TlWJku5nDH2ERtHHw==",
        subject=True,
    ),
    aws_fixture(
        "4504e649-d933-5aa9-8199-bd14ccf05f0b",
        "530b26da-0687-4fe4-9f71-780bad3181e2",
        "2022-07-28T22:53:55.086Z",
        "2",
        "cETcSvmmkt+My05qCLKexyl0+RyG83mSryKPqTfS+tYcxDJWVcjPJAr+qdpElzVaBl1aTGYVWMY64i9JqZ/JES8py"
        "lNj8LGvdhuNQKO59/WCoIimZAsNhn0xEgOeeDU+W/0BU4sdpCGMNjo0S/FuIiWaRe4E0YWRVrxeQevaQ70euDdfWg"
        "d5v1eCKQz8b367b9XBmMztL/CWUFI6YaKK/MV21eyvJe3Y7CtVYiOKEYiAZnAEkynK7gUGO5TsgDjGNYhj6U3xYsW"
        "gI03bmioSl7kdFSUj+AZ7ugas5fghqxgoDsdfqsjMYKRm5KKHQWsgzI619yIzpNKUiSMHxdZXpQ==",
        subject=True,
    ),
]
AWS_NOW = datetime(2022, 7, 28, 22, 10, tzinfo=UTC).timestamp()  # within an hour of all four
AWS_DOCS = {AWS_CERT_URL: AWS_CERT}


def aws_source(topics: list[str] | None = None) -> SourceConfig:
    topics = topics or [m["TopicArn"] for m in AWS_FIXTURES]
    return SourceConfig(name="sns", vendor="aws-sns", options=RawOptions.of({"topic_arns": topics}))


def sns_verify(
    message: dict[str, Any] | bytes,
    source: SourceConfig,
    now: float,
    documents: dict[str, bytes],
) -> Any:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return handler.verify(Verification(request(body, {}), source, now, documents))


# -- AWS's documented, SNS-signed messages --------------------------------------------------------


@pytest.mark.parametrize("message", AWS_FIXTURES, ids=["v1", "v2", "v1-subject", "v2-subject"])
def test_aws_signed_fixtures_verify(message: dict[str, Any]) -> None:
    verdict = sns_verify(message, aws_source(), AWS_NOW, AWS_DOCS)
    assert verdict.secret_index == 0
    stamp = datetime.fromisoformat(message["Timestamp"].replace("Z", "+00:00"))
    assert verdict.signed_at == int(stamp.timestamp())


@pytest.mark.parametrize(
    "field", ["Message", "MessageId", "Timestamp", "TopicArn", "Subject", "SignatureVersion"]
)
def test_tampering_any_signed_field_is_rejected(field: str) -> None:
    message = dict(AWS_FIXTURES[3])
    if field == "SignatureVersion":
        message[field] = "1"  # a v2 signature checked as v1
    elif field == "Timestamp":
        message[field] = "2022-07-28T22:53:55.087Z"
    else:
        message[field] = message[field] + "x"
    source = aws_source([*(m["TopicArn"] for m in AWS_FIXTURES), message["TopicArn"]])
    with pytest.raises(InvalidSignatureError):
        sns_verify(message, source, AWS_NOW, AWS_DOCS)


def test_adding_a_subject_breaks_the_signature() -> None:
    message = {**AWS_FIXTURES[1], "Subject": "injected"}
    with pytest.raises(InvalidSignatureError):
        sns_verify(message, aws_source(), AWS_NOW, AWS_DOCS)


def test_null_subject_counts_as_absent() -> None:
    message = {**AWS_FIXTURES[1], "Subject": None}
    assert sns_verify(message, aws_source(), AWS_NOW, AWS_DOCS).secret_index == 0


def test_topic_not_configured_is_refused_after_a_good_signature() -> None:
    with pytest.raises(InvalidCredentialsError):
        sns_verify(
            AWS_FIXTURES[0], aws_source(["arn:aws:sns:us-east-2:1:other"]), AWS_NOW, AWS_DOCS
        )


def test_expired_certificate_is_refused() -> None:
    # Within the replay window only if the tolerance were huge: the certificate check still wins.
    lenient = SourceConfig(
        name="sns",
        vendor="aws-sns",
        tolerance_seconds=10**9,
        options=RawOptions.of({"topic_arns": [AWS_FIXTURES[0]["TopicArn"]]}),
    )
    later = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    with pytest.raises(InvalidSignatureError, match="expired or not yet valid"):
        sns_verify(AWS_FIXTURES[0], lenient, later, AWS_DOCS)


@pytest.mark.parametrize("skew", [-3901, 3901, 86_400])
def test_timestamp_outside_the_retry_window(skew: int) -> None:
    stamp = datetime(2022, 7, 28, 21, 23, 58, tzinfo=UTC).timestamp()
    with pytest.raises(TimestampOutOfToleranceError):
        sns_verify(AWS_FIXTURES[0], aws_source(), stamp + skew, AWS_DOCS)


def test_certificate_from_elsewhere_does_not_verify() -> None:
    _, other = make_certificate(datetime(2022, 1, 1, tzinfo=UTC))
    pem = other.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidSignatureError):
        sns_verify(AWS_FIXTURES[0], aws_source(), AWS_NOW, {AWS_CERT_URL: pem})


def test_certificate_not_fetched_is_a_rejection() -> None:
    with pytest.raises(InvalidSignatureError):
        sns_verify(AWS_FIXTURES[0], aws_source(), AWS_NOW, {})
    with pytest.raises(InvalidSignatureError):
        sns_verify(AWS_FIXTURES[0], aws_source(), AWS_NOW, {AWS_CERT_URL: b"not a cert"})


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-x.pem",
        "https://evil.com/sns.us-east-2.amazonaws.com/x.pem",
        "https://my-bucket.s3.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-x.txt",
        "https://user:pw@sns.us-east-2.amazonaws.com/x.pem",
        "https://sns.us-east-2.amazonaws.com:8443/x.pem",
        "https://sns.ab.amazonaws.com/x.pem",
        "https://[::1/x.pem",
    ],
)
def test_signing_cert_url_must_be_an_sns_host(url: str) -> None:
    message = {**AWS_FIXTURES[0], "SigningCertURL": url}
    body = json.dumps(message).encode()
    assert handler.documents(request(body, {})) == []
    with pytest.raises(InvalidSignatureError):
        sns_verify(message, aws_source(), AWS_NOW, {url: AWS_CERT})


def test_documents_name_the_certificate_url() -> None:
    body = json.dumps(AWS_FIXTURES[0]).encode()
    assert handler.documents(request(body, {})) == [AWS_CERT_URL]
    assert handler.documents(request(b"\xff", {})) == []
    assert any(p.fullmatch("sns.cn-north-1.amazonaws.com.cn") for p in handler.document_hosts)
    assert allowed_sns_url("https://sns.us-gov-west-1.amazonaws.com/x.pem", pem=True)


def test_string_to_sign_matches_the_documented_format() -> None:
    assert string_to_sign(AWS_FIXTURES[2]) == (
        b"Message\nHello world\n"
        b"MessageId\n11405cc3-9ac7-56d5-b45d-079e8f7a8edf\n"
        b"Subject\nHello world\n"
        b"Timestamp\n2022-07-28T22:53:49.654Z\n"
        b"TopicArn\narn:aws:sns:us-east-2:295079676684:publish-and-verify-"
        b"6e11fed2-fcdf-4c52-9dc4-36ef43f37f84\n"
        b"Type\nNotification\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        json.dumps({**AWS_FIXTURES[0], "Type": "Other"}).encode(),
        json.dumps({**AWS_FIXTURES[0], "Message": 1}).encode(),
        json.dumps({**AWS_FIXTURES[0], "SignatureVersion": "3"}).encode(),
        json.dumps({**AWS_FIXTURES[0], "SignatureVersion": 1}).encode(),
        json.dumps({**AWS_FIXTURES[0], "Signature": "@@@"}).encode(),
        json.dumps({**AWS_FIXTURES[0], "Signature": None}).encode(),
        json.dumps({**AWS_FIXTURES[0], "Timestamp": "yesterday"}).encode(),
        json.dumps({**AWS_FIXTURES[0], "SigningCertURL": ["x"]}).encode(),
    ],
)
def test_malformed_messages_are_rejected_not_crashed(body: bytes) -> None:
    with pytest.raises(RejectedRequestError) as caught:
        sns_verify(body, aws_source(), AWS_NOW, AWS_DOCS)
    assert caught.value.status in (400, 401)


fields = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.lists(st.text(max_size=3)))


@settings(max_examples=200, deadline=None)
@given(
    overrides=st.dictionaries(
        st.sampled_from(
            [
                "Type",
                "Message",
                "MessageId",
                "Subject",
                "Timestamp",
                "TopicArn",
                "SignatureVersion",
                "Signature",
                "SigningCertURL",
                "SubscribeURL",
                "Token",
            ]
        ),
        fields,
    ),
    junk=st.binary(max_size=100),
)
def test_property_random_messages_only_reject(overrides: dict[str, Any], junk: bytes) -> None:
    with pytest.raises(RejectedRequestError):
        sns_verify(
            {**AWS_FIXTURES[0], **overrides, "Message": "x"}, aws_source(), AWS_NOW, AWS_DOCS
        )
    with pytest.raises(RejectedRequestError):
        sns_verify(junk, aws_source(), AWS_NOW, AWS_DOCS)


# -- local keys: sign, confirmations, SES and S3 ---------------------------------------------------


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    snippet = simulator(handler).generate_keys(directory)
    assert LOCAL_CERT_URL in snippet
    assert LOCAL_TOPIC_ARN in snippet
    return directory


def local_source(key_dir: Path, *, auto_confirm: bool = True) -> SourceConfig:
    cert = str(key_dir / "aws-sns" / "certificate.pem")
    source = SourceConfig(
        name="sns",
        vendor="aws-sns",
        options=RawOptions.of(
            {
                "topic_arns": [LOCAL_TOPIC_ARN],
                "certificates": {LOCAL_CERT_URL: cert},
                "auto_confirm": auto_confirm,
            }
        ),
    )
    return handler.check_config(source)


def local_docs(key_dir: Path) -> dict[str, bytes]:
    return {LOCAL_CERT_URL: (key_dir / "aws-sns" / "certificate.pem").read_bytes()}


def signed(key_dir: Path, event_type: str, now: float) -> bytes:
    context = SigningContext(source=local_source(key_dir), url=URL, key_dir=key_dir)
    return (
        simulator(handler)
        .sign(simulator(handler).sample(event_type), context, now, event_type)
        .body
    )


def received(key_dir: Path, event_type: str) -> tuple[bytes, Delivery]:
    now = datetime.now(UTC).timestamp()
    body = signed(key_dir, event_type, now)
    source = local_source(key_dir)
    handler.verify(Verification(request(body, {}), source, now, local_docs(key_dir)))
    identity = handler.identify(request(body, {}), source)
    return body, Delivery(
        "sns", "aws-sns", identity.event_id, identity.event_type, body, datetime.now(UTC)
    )


@pytest.mark.parametrize("event_type", simulator(AwsSnsHandler).sample_types)
def test_every_sample_signs_and_verifies(key_dir: Path, event_type: str) -> None:
    _, delivery = received(key_dir, event_type)
    assert delivery.event_type == event_type


def test_v1_signing_verifies_too(key_dir: Path) -> None:
    now = datetime.now(UTC).timestamp()
    message = json.loads(simulator(handler).sample("ses.Bounce"))
    message["SignatureVersion"] = "1"
    context = SigningContext(source=local_source(key_dir), url=URL, key_dir=key_dir)
    body = simulator(handler).sign(json.dumps(message).encode(), context, now).body
    assert json.loads(body)["SignatureVersion"] == "1"
    handler.verify(Verification(request(body, {}), local_source(key_dir), now, local_docs(key_dir)))


def test_sign_matches_a_plain_rsa_signature(key_dir: Path) -> None:
    """`sign` is SHA256withRSA over the canonical string, as SNS v2 documents."""
    body = signed(key_dir, "Notification", datetime.now(UTC).timestamp())
    message = json.loads(body)
    pem = (key_dir / "aws-sns" / "certificate.pem").read_bytes()
    public_key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        base64.b64decode(message["Signature"]),
        string_to_sign(message),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_subscription_confirmation_is_a_handshake_with_a_confirm_url(key_dir: Path) -> None:
    body, delivery = received(key_dir, "SubscriptionConfirmation")
    identity = handler.identify(request(body, {}), local_source(key_dir))
    assert identity.handshake
    assert identity.confirm_url == json.loads(body)["SubscribeURL"]
    assert handler.normalize(delivery) == []


def test_unsubscribe_confirmation_is_a_handshake_without_confirmation(key_dir: Path) -> None:
    message = json.loads(simulator(handler).sample("SubscriptionConfirmation"))
    message["Type"] = "UnsubscribeConfirmation"
    identity = handler.identify(request(json.dumps(message).encode(), {}), local_source(key_dir))
    assert identity.handshake
    assert identity.confirm_url is None


def test_subscribe_url_off_sns_is_refused(key_dir: Path) -> None:
    message = json.loads(simulator(handler).sample("SubscriptionConfirmation"))
    message["SubscribeURL"] = "https://169.254.169.254/latest/meta-data/"
    with pytest.raises(MalformedRequestError):
        handler.identify(request(json.dumps(message).encode(), {}), local_source(key_dir))


def test_ses_bounce_is_one_hard_bounce_per_recipient(key_dir: Path) -> None:
    _, delivery = received(key_dir, "ses.Bounce")
    [event] = handler.normalize(delivery)
    assert event.type == "email.bounced"
    assert isinstance(event.data, EmailBounced)
    assert event.data.provider == "ses"
    assert event.data.bounce_type == "hard"
    assert event.data.vendor_bounce_type == "Permanent/General"
    assert event.data.diagnostic == "smtp; 550 5.1.1 user unknown"
    assert event.data.tags == ["campaign:welcome"]
    assert event.key == "recipient@example.com"


def test_ses_delivery_complaint_open_click(key_dir: Path) -> None:
    expected = {
        "ses.Delivery": EmailDelivered,
        "ses.Complaint": EmailComplained,
        "ses.Open": EmailOpened,
        "ses.Click": EmailClicked,
    }
    for event_type, model in expected.items():
        _, delivery = received(key_dir, event_type)
        [event] = handler.normalize(delivery)
        assert isinstance(event.data, model), event_type


def test_ses_transient_bounce_with_two_recipients() -> None:
    inner = json.loads(json.loads(simulator(handler).sample("ses.Bounce"))["Message"])
    inner["bounce"]["bounceType"] = "Transient"
    inner["bounce"]["bounceSubType"] = "MailboxFull"
    inner["bounce"]["bouncedRecipients"].append({"emailAddress": "Other@Example.com"})
    body = json.dumps(
        {**json.loads(simulator(handler).sample("ses.Bounce")), "Message": json.dumps(inner)}
    )
    delivery = Delivery("sns", "aws-sns", "m", "ses.Bounce", body.encode(), datetime.now(UTC))
    events = handler.normalize(delivery)
    assert [e.key for e in events] == ["recipient@example.com", "other@example.com"]
    assert all(isinstance(e.data, EmailBounced) and e.data.bounce_type == "soft" for e in events)


def test_s3_records_become_storage_events_with_item_ids(key_dir: Path) -> None:
    _, created = received(key_dir, "s3.ObjectCreated:Put")
    [event] = handler.normalize(created)
    assert event.type == "storage.object.created"
    assert isinstance(event.data, StorageObjectCreated)
    record = json.loads(json.loads(created.body)["Message"])["Records"][0]
    assert event.data.bucket == "amzn-s3-demo-bucket"
    assert event.data.size == 1024
    assert (
        event.item_id
        == f"s3:amzn-s3-demo-bucket/HappyFace.jpg@{record['s3']['object']['sequencer']}"
    )
    _, deleted = received(key_dir, "s3.ObjectRemoved:Delete")
    [gone] = handler.normalize(deleted)
    assert isinstance(gone.data, StorageObjectDeleted)


def test_s3_keys_are_url_decoded() -> None:
    message = json.loads(simulator(handler).sample("s3.ObjectCreated:Put"))
    inner = json.loads(message["Message"])
    inner["Records"][0]["s3"]["object"]["key"] = "photos/my+summer%2Fholiday.jpg"
    message["Message"] = json.dumps(inner)
    delivery = Delivery(
        "sns", "aws-sns", "m", "s3", json.dumps(message).encode(), datetime.now(UTC)
    )
    [event] = handler.normalize(delivery)
    assert isinstance(event.data, StorageObjectCreated)
    assert event.data.key == "photos/my summer/holiday.jpg"


def test_other_notifications_pass_through(key_dir: Path) -> None:
    body, delivery = received(key_dir, "Notification")
    [event] = handler.normalize(delivery)
    assert event.type == "aws-sns.Notification"
    assert isinstance(event.data, VendorPassthrough)
    assert event.data.payload == json.loads(body)


def test_topic_arns_are_required_and_pins_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="topic_arns"):
        handler.check_config(
            SourceConfig(name="s", vendor="aws-sns", options=RawOptions.of({"topic_arns": []}))
        )
    with pytest.raises(ConfigError, match="not an https SNS"):
        handler.check_config(
            SourceConfig(
                name="s",
                vendor="aws-sns",
                options=RawOptions.of(
                    {"topic_arns": ["a"], "certificates": {"https://evil.com/x.pem": "x"}}
                ),
            )
        )
    with pytest.raises(ConfigError, match="no file"):
        handler.check_config(
            SourceConfig(
                name="s",
                vendor="aws-sns",
                options=RawOptions.of(
                    {
                        "topic_arns": ["a"],
                        "certificates": {LOCAL_CERT_URL: str(tmp_path / "missing.pem")},
                    }
                ),
            )
        )
