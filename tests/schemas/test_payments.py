"""Payments schema: exact minor units from decimal strings (PayPal), ISO 4217 exponents."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ingest.schemas.base import Money, currency_exponent, money_from_decimal, to_minor_units
from ingest.schemas.payments import (
    PaymentDisputed,
    PaymentRefunded,
)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("USD", 2), ("EUR", 2), ("HUF", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("KWD", 3),
     ("BHD", 3), ("TND", 3), ("CLF", 4)],
)  # fmt: skip
def test_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("10.99", "USD", 1099),
        ("10.9", "USD", 1090),
        ("10", "USD", 1000),
        ("0.01", "USD", 1),
        (".5", "USD", 50),
        ("0", "USD", 0),
        ("1000", "JPY", 1000),
        ("1000.00", "JPY", 1000),  # trailing zeros are not extra precision
        ("1.234", "KWD", 1234),
        ("1.5", "BHD", 1500),
        ("99999999999999999999.99", "USD", int("9" * 22)),
        ("1234567890123456789012345678.91", "USD", int("123456789012345678901234567891")),
    ],
)
def test_decimal_strings_become_exact_minor_units(value: str, currency: str, minor: int) -> None:
    assert to_minor_units(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("10.999", "USD"),  # a tenth of a cent: refused, never rounded
        ("1000.5", "JPY"),
        ("1.2345", "KWD"),
        ("-1.00", "USD"),
        ("1e3", "USD"),
        ("1E999999999", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        (" 1.00", "USD"),
        ("1,00", "USD"),
        ("", "USD"),
        (".", "USD"),
        ("\u0661\u0660", "USD"),  # Arabic-Indic digits: digits to int(), not to us
        ("1" * 40, "USD"),
        ("1.00", "usd"),
        ("1.00", "US"),
        ("1.00", "XAU"),  # ISO gives gold no minor unit
    ],
)
def test_inexact_or_malformed_amounts_raise(value: str, currency: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the helper's one documented error
        to_minor_units(value, currency)


def test_money_from_decimal() -> None:
    assert money_from_decimal("10.99", "USD") == Money(amount_minor=1099, currency="USD")
    assert money_from_decimal("500", "JPY") == Money(amount_minor=500, currency="JPY")


def test_refund_fields_added_later_are_optional() -> None:
    """Events built the way the first Stripe mapping built them still validate."""
    refund = PaymentRefunded.model_validate(
        {
            "provider": "stripe",
            "payment_id": "pi_1",
            "amount": {"amount_minor": 100, "currency": "USD"},
            "occurred_at": "2024-01-01T00:00:00Z",
            "fully_refunded": True,
        }
    )
    assert refund.refund_id is None
    assert refund.refund_amount is None


def test_dispute_needs_its_id_and_rejects_unknown_fields() -> None:
    base = {
        "provider": "stripe",
        "payment_id": "pi_1",
        "amount": {"amount_minor": 100, "currency": "USD"},
        "occurred_at": "2024-01-01T00:00:00Z",
    }
    with pytest.raises(ValidationError):
        PaymentDisputed.model_validate(base)
    with pytest.raises(ValidationError):
        PaymentDisputed.model_validate({**base, "dispute_id": "dp_1", "surprise": 1})
    assert PaymentDisputed.model_validate({**base, "dispute_id": "dp_1"}).event_type == (
        "payment.disputed"
    )
