"""`INGEST_TRUSTED_PROXIES` and `ip_allowlist` entries as operators write them."""

from __future__ import annotations

import ipaddress

import pytest

from ingest.networks import parse_networks


def test_addresses_and_networks_of_both_families_comma_separated() -> None:
    assert parse_networks(" 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,, ") == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.7/32"),
        ipaddress.ip_network("2001:db8::/32"),
    )


def test_host_bits_are_forgiven_as_operators_write_them() -> None:
    assert parse_networks("10.1.2.3/8") == (ipaddress.ip_network("10.0.0.0/8"),)


def test_empty_is_no_network() -> None:
    assert parse_networks("") == ()


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "not-an-ip", "10.0.0.0/8; 10.1.0.0/16"])
def test_a_bad_entry_is_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(raw)
