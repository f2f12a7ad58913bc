"""Monitoring alerts, whichever tool raised them (Datadog…): one schema for all.

CloudEvent types: `monitoring.alert.triggered`, `monitoring.alert.warning`,
`monitoring.alert.resolved`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel


class MonitoringAlert(DomainModel):
    event_type: ClassVar[str]
    """Set by each concrete event below."""
    provider: str
    """Who raised the alert: `datadog`."""
    notification_id: str
    """The provider's id of this notification (Datadog's `$ID`): a re-trigger is a new one."""
    alert_id: str | None = None
    """The provider's id of the monitor or alert rule (Datadog's `$ALERT_ID`): the same for the
    trigger and the recovery, so consumers correlate on it."""
    title: str
    transition: str | None = None
    """The provider's own word for the change (`Triggered`, `Re-Triggered`, `Warn`, `Recovered`)."""
    priority: str | None = None
    """The provider's priority, as sent (Datadog's `P1`…`P5`)."""
    tags: list[str] = Field(default_factory=list)
    url: str | None = None
    """Where a human looks at the alert."""
    message: str | None = None
    cycle_key: str | None = None
    """Links every notification from one trigger to its recovery (Datadog's `$ALERT_CYCLE_KEY`)."""
    occurred_at: datetime | None = None


class AlertTriggered(MonitoringAlert):
    event_type: ClassVar[str] = "monitoring.alert.triggered"


class AlertWarning(MonitoringAlert):
    event_type: ClassVar[str] = "monitoring.alert.warning"


class AlertResolved(MonitoringAlert):
    event_type: ClassVar[str] = "monitoring.alert.resolved"
