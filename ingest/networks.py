"""IP networks as the environment and the sources file write them."""

from __future__ import annotations

import ipaddress

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[IpNetwork, ...]:
    """`10.0.0.0/8, 192.168.1.7` → networks; ValueError names a bad entry."""
    return tuple(
        ipaddress.ip_network(item, strict=False)
        for item in (part.strip() for part in raw.split(","))
        if item
    )
