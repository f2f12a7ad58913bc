"""The sources file: which vendor posts to which endpoint, with which secrets; where events go.

Loading fails closed: a missing variable, an empty secret or an unknown vendor stops start-up with a
message that names the source and the variable, never a value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from ingest.errors import ConfigError
from ingest.networks import IpNetwork, client_address

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
"""Both matched whole (`fullmatch`): with `match` and `$`, a name ending in a newline passed."""
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_TOPIC = "ingest.events"


COMMON_KEYS = frozenset(
    {"vendor", "secrets", "tolerance_seconds", "ip_allowlist", "dedupe_content_seconds"}
)
MAX_DEDUPE_WINDOW = 30 * 24 * 3600


class RawOptions(BaseModel):
    """A source's vendor keys as the sources file wrote them, before its vendor's model checked
    them (`check_sources` at start-up replaces them with that model). A model, not a dict, so
    `SourceConfig.options` has one type; `as_mapping` is what a vendor model validates."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def of(cls, values: Mapping[str, object]) -> RawOptions:
        return cls.model_validate(dict(values))

    def as_mapping(self) -> dict[str, object]:
        return dict(self.model_extra or {})


@dataclass(frozen=True)
class SourceConfig:
    """One webhook endpoint: `POST /webhooks/{name}`."""

    name: str
    vendor: str
    secrets: tuple[str, ...] = ()
    tolerance_seconds: int | None = None
    options: BaseModel = field(default_factory=RawOptions)
    """Vendor-specific keys: `RawOptions` as read, the vendor's model once checked. Read them
    with `VendorHandler.options(source, Model)`, which is typed either way."""
    ip_allowlist: tuple[IpNetwork, ...] = ()
    """Empty: any address. Otherwise requests from elsewhere get 403 before any parsing."""
    sensitive_values: tuple[str, ...] = ()
    """Every value read from the environment: redacted wherever it would be logged."""
    dedupe_content_seconds: int | None = None
    """Opt-in: within this window, a delivery whose body is byte for byte one already received
    is a duplicate whatever its (unsigned) delivery id says — a replayed capture of a GitHub
    webhook with a new `X-GitHub-Delivery` is not a new event."""

    def __post_init__(self) -> None:
        # A mapping typed as Any (from YAML, say) would otherwise slip past the type checker.
        if not isinstance(self.options, BaseModel):
            raise TypeError("SourceConfig.options is a model (RawOptions.of(mapping) as read)")

    def with_options(self, options: BaseModel) -> SourceConfig:
        return replace(self, options=options)

    def allows(self, address: str | None) -> bool:
        if not self.ip_allowlist:
            return True
        ip = client_address(address)
        return ip is not None and any(ip in network for network in self.ip_allowlist)


@dataclass(frozen=True)
class Route:
    match: str
    topic: str
    source: str | None = None

    def matches(self, event_type: str, source: str) -> bool:
        if self.source is not None and self.source != source:
            return False
        return fnmatchcase(event_type, self.match)


@dataclass(frozen=True)
class SourcesConfig:
    sources: Mapping[str, SourceConfig]
    routes: tuple[Route, ...]
    default_topic: str = DEFAULT_TOPIC

    def topic_for(self, event_type: str, source: str) -> str:
        """First matching route wins; unmatched events still go somewhere documented."""
        for route in self.routes:
            if route.matches(event_type, source):
                return route.topic
        return self.default_topic

    def secret_values(self) -> list[str]:
        return [
            value
            for source in self.sources.values()
            for value in (*source.secrets, *source.sensitive_values)
        ]


def _read_variable(name: str, where: str) -> str:
    """`NAME` from the environment, else the file named by `NAME_FILE` (Docker secrets)."""
    value = os.environ.get(name)
    if value is None and (path := os.environ.get(f"{name}_FILE")):
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {name}_FILE ({exc.strerror})") from None
    if value is None:
        raise ConfigError(f"{where}: environment variable {name} is not set")
    return value


def _interpolate(raw: str, where: str, seen: list[str] | None = None) -> str:
    def lookup(match: re.Match[str]) -> str:
        value = _read_variable(match.group(1), where)
        if seen is not None:
            seen.append(value)
        return value

    return ENV_REFERENCE.sub(lookup, raw)


def _interpolate_tree(raw: Any, where: str, seen: list[str]) -> Any:
    """`${VAR}` anywhere in a source's options (tokens, Basic auth passwords, key files…)."""
    if isinstance(raw, str):
        return _interpolate(raw, where, seen)
    if isinstance(raw, list):
        return [_interpolate_tree(item, where, seen) for item in raw]
    if isinstance(raw, dict):
        return {str(k): _interpolate_tree(v, where, seen) for k, v in raw.items()}
    return raw


def _parse_allowlist(raw: Any, where: str) -> tuple[IpNetwork, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: ip_allowlist must be a non-empty list of addresses or CIDRs")
    try:
        return tuple(ipaddress.ip_network(str(item), strict=False) for item in raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: ip_allowlist: {exc}") from None


def _parse_window(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 < raw <= MAX_DEDUPE_WINDOW:
        raise ConfigError(
            f"{where}: dedupe_content_seconds must be a whole number of seconds, "
            f"1 to {MAX_DEDUPE_WINDOW} (30 days)"
        )
    return raw


def _parse_source(name: str, raw: Any, known_vendors: frozenset[str]) -> SourceConfig:
    where = f"source {name!r}"
    if not SOURCE_NAME.fullmatch(name):
        raise ConfigError(f"{where}: names are lowercase letters, digits, '-' and '_'")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    vendor = raw.get("vendor")
    if not isinstance(vendor, str) or vendor not in known_vendors:
        raise ConfigError(
            f"{where}: unknown vendor {vendor!r}; known: {', '.join(sorted(known_vendors))}"
        )
    raw_secrets = raw.get("secrets", [])
    if not isinstance(raw_secrets, list) or ("secrets" in raw and not raw_secrets):
        raise ConfigError(f"{where}: 'secrets' must be a non-empty list")
    secrets: list[str] = []
    for index, item in enumerate(raw_secrets):
        if not isinstance(item, str):
            raise ConfigError(f"{where}: secrets[{index}] must be a string")
        refs = ENV_REFERENCE.findall(item)
        label = f"secrets[{index}]" + (f" (${{{refs[0]}}})" if refs else "")
        value = _interpolate(item, where)
        if not value.strip():
            raise ConfigError(f"{where}: {label} is empty; refusing to verify with an empty secret")
        secrets.append(value)
    tolerance = raw.get("tolerance_seconds")
    if tolerance is not None and (
        not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance <= 0
    ):
        raise ConfigError(f"{where}: tolerance_seconds must be a positive integer")
    sensitive: list[str] = []
    options = _interpolate_tree(
        {k: v for k, v in raw.items() if k not in COMMON_KEYS}, where, sensitive
    )
    return SourceConfig(
        name=name,
        vendor=vendor,
        secrets=tuple(secrets),
        tolerance_seconds=tolerance,
        options=RawOptions.of(options),
        ip_allowlist=_parse_allowlist(raw.get("ip_allowlist"), where),
        dedupe_content_seconds=_parse_window(raw.get("dedupe_content_seconds"), where),
        sensitive_values=tuple(v for v in sensitive if v),
    )


def _parse_route(index: int, raw: Any, source_names: frozenset[str]) -> Route:
    where = f"routes[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with 'match' and 'topic'")
    match, topic, source = raw.get("match"), raw.get("topic"), raw.get("source")
    if not isinstance(match, str) or not match:
        raise ConfigError(f"{where}: 'match' must be a glob such as 'payment.*'")
    if not isinstance(topic, str) or not KAFKA_TOPIC.fullmatch(topic):
        raise ConfigError(f"{where}: 'topic' must be a Kafka topic name ([A-Za-z0-9._-])")
    if source is not None and source not in source_names:
        raise ConfigError(f"{where}: 'source' names no configured source: {source!r}")
    return Route(match=match, topic=topic, source=source)


def parse_sources(document: Any, known_vendors: frozenset[str]) -> SourcesConfig:
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise ConfigError("sources file: expected a top-level 'sources' mapping")
    sources = {
        str(name): _parse_source(str(name), raw, known_vendors)
        for name, raw in document["sources"].items()
    }
    raw_routes = document.get("routes") or []
    if not isinstance(raw_routes, list):
        raise ConfigError("sources file: 'routes' must be a list")
    names = frozenset(sources)
    routes = tuple(_parse_route(i, raw, names) for i, raw in enumerate(raw_routes))
    default_topic = document.get("default_topic", DEFAULT_TOPIC)
    if not isinstance(default_topic, str) or not KAFKA_TOPIC.fullmatch(default_topic):
        raise ConfigError("sources file: 'default_topic' must be a Kafka topic name")
    return SourcesConfig(sources=sources, routes=routes, default_topic=default_topic)


def load_sources(path: Path, known_vendors: frozenset[str]) -> SourcesConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"sources file {path} does not exist (set INGEST_SOURCES_FILE or create it)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"sources file {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"sources file {path}: not valid YAML ({exc.__class__.__name__})"
        ) from None
    return parse_sources(document, known_vendors)
