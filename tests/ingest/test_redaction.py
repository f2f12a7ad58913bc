"""What the inbox stores of a request's headers: credentials blanked (by name, by a source's
declared header, by any configured secret in any case or without its prefix), signatures kept."""

from __future__ import annotations

from ingest.redaction import REDACTED, is_redacted_name, redact_headers, secret_variants


def test_credential_names_are_blanked_and_signatures_kept() -> None:
    headers = {
        "Authorization": "Basic dTpw",
        "x-gitlab-token": "t",
        "X-Webhook-Secret": "s",
        "cookie": "c",
        "stripe-signature": "t=1,v1=ab",
        "x-hub-signature-256": "sha256=ab",
    }
    stored = redact_headers(headers)
    assert [name for name, value in stored.items() if value == REDACTED] == [
        "Authorization",
        "x-gitlab-token",
        "X-Webhook-Secret",
        "cookie",
    ]
    assert stored["stripe-signature"] == "t=1,v1=ab"


def test_a_declared_credential_header_is_blanked_whatever_its_name() -> None:
    assert not is_redacted_name("x-okta-key")
    assert redact_headers({"X-Okta-Key": "k"}, names={"x-okta-key"}) == {"X-Okta-Key": REDACTED}


def test_a_configured_secret_anywhere_in_a_value_is_blanked_in_any_case_and_unprefixed() -> None:
    variants = secret_variants(["whsec_abcdefghijklmnop"])
    assert "whsec_abcdefghijklmnop" in variants
    assert "abcdefghijklmnop" in variants
    for value in (
        "Bearer WHSEC_ABCDEFGHIJKLMNOP",
        "key=abcdefghijklmnop;",
        "whsec_abcdefghijklmnop",
    ):
        assert redact_headers({"x-debug": value}, secrets=variants) == {"x-debug": REDACTED}
    assert redact_headers({"x-debug": "nothing here"}, secrets=variants) == {
        "x-debug": "nothing here"
    }


def test_secrets_too_short_to_look_for_are_not_looked_for() -> None:
    # Three characters would blank headers at random.
    assert secret_variants(["abc"]) == ()
