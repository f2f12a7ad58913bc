"""IP networks as the environment and the sources file write them."""

from __future__ import annotations

import ipaddress

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(text: str | None) -> IpAddress | None:
    """A peer's or a forwarded hop's address, None if it is not one. An IPv4 client of a server
    listening on `::` is reported as `::ffff:a.b.c.d`: it is read as the IPv4 address it is, so
    the IPv4 networks operators write (`ip_allowlist`, `INGEST_TRUSTED_PROXIES`) match it."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(raw: str) -> tuple[IpNetwork, ...]:
    """`10.0.0.0/8, 192.168.1.7` → networks; ValueError names a bad entry."""
    return tuple(
        ipaddress.ip_network(item, strict=False)
        for item in (part.strip() for part in raw.split(","))
        if item
    )
