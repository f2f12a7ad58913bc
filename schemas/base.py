"""Shared building blocks: every domain event is immutable and rejects unknown fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class DomainModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(DomainModel):
    """An amount in the currency's minor unit (cents for USD, yen for JPY) and its ISO 4217 code."""

    amount_minor: Annotated[int, Field(ge=0)]
    currency: CurrencyCode
