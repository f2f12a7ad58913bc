"""Product analytics, whichever tool collected it (Segment, Mixpanel…): one schema for all.

CloudEvent types: `analytics.track`, `analytics.identify`, `analytics.page`, `analytics.screen`,
`analytics.group` (one per call of the Segment Spec), and `analytics.cohort.member_added`,
`analytics.cohort.member_removed` (audience/cohort syncs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel


class AnalyticsCall(DomainModel):
    """Fields every analytics call carries. At least one of `user_id`/`anonymous_id` is set by the
    collecting library; both are kept because consumers join on either."""

    provider: str
    """Who collected the call: `segment`."""
    message_id: str | None = None
    """The provider's id of the call (Segment's `messageId`): stable across retries."""
    user_id: str | None = None
    anonymous_id: str | None = None
    occurred_at: datetime | None = None
    """When the call happened on the client (Segment's `timestamp`), UTC."""
    context: dict[str, Any] = Field(default_factory=dict)
    """Device, IP, library, campaign… as the provider sent them."""


class AnalyticsTrack(AnalyticsCall):
    event_type: ClassVar[str] = "analytics.track"
    event: str
    """The action the user performed, e.g. `Order Completed`."""
    properties: dict[str, Any] = Field(default_factory=dict)


class AnalyticsIdentify(AnalyticsCall):
    event_type: ClassVar[str] = "analytics.identify"
    traits: dict[str, Any] = Field(default_factory=dict)


class AnalyticsPage(AnalyticsCall):
    event_type: ClassVar[str] = "analytics.page"
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class AnalyticsScreen(AnalyticsCall):
    """A mobile app's equivalent of a page view."""

    event_type: ClassVar[str] = "analytics.screen"
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class AnalyticsGroup(AnalyticsCall):
    event_type: ClassVar[str] = "analytics.group"
    group_id: str
    traits: dict[str, Any] = Field(default_factory=dict)
    """The group's traits (company name, plan…), not the user's."""


class CohortMembership(DomainModel):
    """One user entering or leaving a cohort (an audience computed by the analytics tool)."""

    event_type: ClassVar[str]
    """Set by each concrete event below."""

    provider: str
    """Who computed the cohort: `mixpanel`."""
    cohort_id: str
    cohort_name: str | None = None
    user_id: str
    """The provider's id of the user (Mixpanel's `mixpanel_distinct_id`)."""
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    """Any further user properties the sync was configured to export."""
    sync_id: str | None = None
    """The provider's id of the sync run (Mixpanel's `mixpanel_session_id`)."""
    full_sync: bool = False
    """True when the provider is sending the whole cohort rather than a diff: once every page of
    the sync has arrived, members not listed are no longer in the cohort."""


class CohortMemberAdded(CohortMembership):
    event_type: ClassVar[str] = "analytics.cohort.member_added"


class CohortMemberRemoved(CohortMembership):
    event_type: ClassVar[str] = "analytics.cohort.member_removed"
