"""Shared building blocks: every domain event is immutable and rejects unknown fields."""

from __future__ import annotations

import re
from typing import Annotated

import iso4217
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class DomainModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(DomainModel):
    """An amount in the currency's minor unit (cents for USD, yen for JPY) and its ISO 4217 code."""

    amount_minor: Annotated[int, Field(ge=0)]
    currency: CurrencyCode


# -- minor units ---------------------------------------------------------------------

_CURRENCY = re.compile(r"[A-Z]{3}")
# Plain decimal notation only (PayPal's `value` pattern, without its minus sign): no exponent
# ("1e9999" would be a cheap way to make us build a huge integer), no sign, no spaces.
_DECIMAL = re.compile(r"(?:[0-9]+|[0-9]*\.[0-9]+)")
_MAX_DECIMAL_LENGTH = 32  # PayPal's documented maximum length for `value`


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency`'s minor unit (JPY 0, USD 2, KWD 3), from
    ISO 4217's own list (the `iso4217` package ships the maintenance agency's table), not a
    hand-kept copy. Metals, SDR, bond units and test codes have no minor unit ("N.A."): no amount
    of them can be minor units, so they are refused rather than guessed."""
    if not _CURRENCY.fullmatch(currency):
        raise ValueError(f"{currency!r} is not an upper-case ISO 4217 code")
    try:
        exponent = iso4217.Currency[currency.lower()].exponent
    except KeyError:
        raise ValueError(f"{currency} is not an ISO 4217 currency") from None
    if exponent is None:
        raise ValueError(f"{currency} has no minor unit in ISO 4217")
    return int(exponent)


def to_minor_units(value: str, currency: str) -> int:
    """A decimal amount such as PayPal's `"10.99"` as an integer count of minor units.

    Exact or an error, never rounded: `"10.999"` USD cannot be a whole number of cents, and
    silently rounding money is how ledgers drift. Trailing zeros beyond the exponent are fine
    (`"100.00"` JPY is 100 yen).
    """
    exponent = currency_exponent(currency)
    if len(value) > _MAX_DECIMAL_LENGTH or not _DECIMAL.fullmatch(value):
        raise ValueError(f"{value!r} is not a non-negative plain decimal amount")
    # Integer arithmetic on the digits: Decimal would round to its context's 28 digits.
    whole, _, fraction = value.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > exponent:
        raise ValueError(f"{value!r} has more decimals than {currency} allows ({exponent})")
    scale: int = 10**exponent
    return int(whole or "0") * scale + int(fraction.ljust(exponent, "0") or "0")


def money_from_decimal(value: str | int, currency: str) -> Money:
    """`Money` from a decimal amount and an ISO 4217 code (PayPal's `{value, currency_code}`,
    Shopify's `"199.00"`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("amount is not a decimal string")
    code = currency.upper()  # vendors differ in case (Stripe sends "usd"); ISO codes are upper
    return Money(amount_minor=to_minor_units(value, code), currency=code)
