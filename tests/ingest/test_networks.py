"""`INGEST_TRUSTED_PROXIES` and `ip_allowlist` entries as operators write them."""

from __future__ import annotations

import ipaddress

import pytest

from ingest.networks import client_address, parse_networks


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


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("10.1.2.3", "10.1.2.3"),
        ("2001:db8::1", "2001:db8::1"),
        (" 10.1.2.3 ", "10.1.2.3"),
    ],
)
def test_a_client_address_is_read_as_the_family_it_really_is(text: str, address: str) -> None:
    assert client_address(text) == ipaddress.ip_address(address)


@pytest.mark.parametrize("text", ["", "not-an-ip", "10.1.2.3.4", None])
def test_what_is_no_address_is_none(text: str | None) -> None:
    assert client_address(text) is None
