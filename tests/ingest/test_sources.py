from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.handlers import VENDORS, check_sources
from ingest.sources import DEFAULT_TOPIC, RawOptions, load_sources, parse_sources


def parse(document: object) -> object:
    """As the service loads it: the file's shape, then each vendor's own checks."""
    return check_sources(parse_sources(document, VENDORS))


def source(**fields: object) -> dict[str, object]:
    return {"sources": {"stripe": {"vendor": "stripe", "secrets": ["s3cret"], **fields}}}


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_abc")
    config = parse_sources(source(secrets=["${STRIPE_WEBHOOK_SECRET}"]), VENDORS)
    assert config.sources["stripe"].secrets == ("whsec_abc",)


def test_secrets_can_come_from_a_file_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("whsec_from_file\n")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    config = parse_sources(source(secrets=["${STRIPE_WEBHOOK_SECRET}"]), VENDORS)
    assert config.sources["stripe"].secrets == ("whsec_from_file",)


def test_a_missing_variable_names_the_source_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"source 'stripe'.*NOPE_SECRET"):
        parse(source(secrets=["${NOPE_SECRET}"]))


def test_an_empty_secret_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "  ")
    with pytest.raises(ConfigError, match=r"source 'stripe'.*EMPTY_SECRET.*empty") as caught:
        parse(source(secrets=["${EMPTY_SECRET}"]))
    assert "  " not in str(caught.value).split("EMPTY_SECRET")[1][:3]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"sources": {"x": {"vendor": "nope", "secrets": ["a"]}}}, "unknown vendor"),
        ({"sources": {"x": {"vendor": "stripe"}}}, "needs 'secrets'"),
        (source(unknown_key=1), "unknown_key"),
        (source(ip_allowlist=["not-an-address"]), "ip_allowlist"),
        ({"sources": {"x": {"vendor": "stripe", "secrets": []}}}, "non-empty list"),
        ({"sources": {"Bad Name": {"vendor": "stripe", "secrets": ["a"]}}}, "lowercase"),
        # `$` alone also matches before a final newline: names and topics are matched whole.
        ({"sources": {"shop\n": {"vendor": "stripe", "secrets": ["a"]}}}, "lowercase"),
        ({**source(), "routes": [{"match": "*", "topic": "payments\n"}]}, "topic"),
        ({**source(), "default_topic": "events\n"}, "default_topic"),
        (source(tolerance_seconds=0), "tolerance_seconds"),
        (source(tolerance_seconds="300"), "tolerance_seconds"),
        ({**source(), "routes": [{"match": "*"}]}, "topic"),
        ({**source(), "routes": [{"match": "*", "topic": "bad topic"}]}, "topic"),
        ({**source(), "routes": [{"match": "*", "topic": "t", "source": "ghost"}]}, "ghost"),
        ([], "top-level"),
    ],
)
def test_invalid_documents_are_refused(document: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(document)


def test_routes_first_match_wins_then_default_topic() -> None:
    config = parse_sources(
        {
            **source(),
            "routes": [
                {"match": "payment.*", "topic": "payments"},
                {"match": "*", "source": "stripe", "topic": "stripe-rest"},
            ],
        },
        VENDORS,
    )
    assert config.topic_for("payment.succeeded", "stripe") == "payments"
    assert config.topic_for("stripe.customer.created", "stripe") == "stripe-rest"
    assert config.topic_for("vcs.push", "github") == DEFAULT_TOPIC


def test_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_sources(tmp_path / "absent.yaml", VENDORS)


def test_the_demo_sources_file_loads() -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "sources.demo.yaml"
    config = load_sources(demo, VENDORS)
    assert set(config.sources) == {"stripe", "github", "clerk"}


def test_options_are_interpolated_and_their_values_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOME_TOKEN", "tok_from_env")
    config = parse_sources(
        {"sources": {"s": {"vendor": "stripe", "secrets": ["x"], "extra": {"t": "${SOME_TOKEN}"}}}},
        VENDORS,
    )
    assert config.sources["s"].options == RawOptions.of({"extra": {"t": "tok_from_env"}})
    assert "tok_from_env" in config.secret_values()


def test_an_ipv4_client_seen_through_a_dual_stack_socket_is_its_ipv4_address() -> None:
    """Served on `::`, an IPv4 client's address is `::ffff:a.b.c.d`: it is the same client."""
    config = parse_sources(source(ip_allowlist=["10.0.0.0/8"]), VENDORS)
    assert config.sources["stripe"].allows("::ffff:10.1.2.3")
    assert not config.sources["stripe"].allows("::ffff:192.0.2.1")


def test_ip_allowlist() -> None:
    config = parse_sources(source(ip_allowlist=["10.0.0.0/8", "2001:db8::1"]), VENDORS)
    stripe = config.sources["stripe"]
    assert stripe.allows("10.1.2.3")
    assert stripe.allows("2001:db8::1")
    assert not stripe.allows("192.0.2.1")
    assert not stripe.allows(None)
    assert parse_sources(source(), VENDORS).sources["stripe"].allows(None)
