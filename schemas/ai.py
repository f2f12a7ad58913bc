"""AI platforms' asynchronous work finishing, whichever provider ran it (OpenAI, Anthropic,
Hugging Face…).

AI providers notify with thin events — a type and the id of the object — and expect the consumer
to fetch the object with the provider's API (stale data is never delivered on a retry). These
models carry what the notification carries and nothing invented.

CloudEvent types:

- `ai.response.completed|failed|cancelled|incomplete` (background model responses)
- `ai.batch.completed|failed|cancelled|expired`
- `ai.fine_tuning.job.succeeded|failed|cancelled`
- `ai.agent_session.idled|terminated|outcome_evaluated` (managed agent sessions)
- `ai.repo.updated` (new commits or refs in a model/dataset/Space repository)
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from ingest.schemas.base import DomainModel


class AiJobEvent(DomainModel):
    """A response, batch or fine-tuning job reached a final state."""

    event_type: ClassVar[str]
    """Set by each concrete event below."""

    provider: str
    """`openai`."""
    resource_id: str
    """The provider's id of the object (`resp_…`, `batch_…`, `ftjob_…`): fetch it for details."""
    status: str
    """The final state, as the CloudEvent type says (`completed`, `failed`, `expired`…)."""
    provider_event_id: str | None = None
    """The provider's id of the notification (OpenAI's body `id`, `evt_…`)."""
    occurred_at: datetime | None = None
    error: str | None = None
    """The provider's error text when the notification carries one (OpenAI's do not: fetch the
    object)."""


class AiResponseCompleted(AiJobEvent):
    event_type: ClassVar[str] = "ai.response.completed"


class AiResponseFailed(AiJobEvent):
    event_type: ClassVar[str] = "ai.response.failed"


class AiResponseCancelled(AiJobEvent):
    event_type: ClassVar[str] = "ai.response.cancelled"


class AiResponseIncomplete(AiJobEvent):
    event_type: ClassVar[str] = "ai.response.incomplete"


class AiBatchCompleted(AiJobEvent):
    event_type: ClassVar[str] = "ai.batch.completed"


class AiBatchFailed(AiJobEvent):
    event_type: ClassVar[str] = "ai.batch.failed"


class AiBatchCancelled(AiJobEvent):
    event_type: ClassVar[str] = "ai.batch.cancelled"


class AiBatchExpired(AiJobEvent):
    event_type: ClassVar[str] = "ai.batch.expired"


class AiFineTuningJobSucceeded(AiJobEvent):
    event_type: ClassVar[str] = "ai.fine_tuning.job.succeeded"


class AiFineTuningJobFailed(AiJobEvent):
    event_type: ClassVar[str] = "ai.fine_tuning.job.failed"


class AiFineTuningJobCancelled(AiJobEvent):
    event_type: ClassVar[str] = "ai.fine_tuning.job.cancelled"


class AgentSessionEvent(DomainModel):
    """A managed agent session changed state in a way a workflow waits for."""

    event_type: ClassVar[str]
    """Set by each concrete event below."""

    provider: str
    """`anthropic`."""
    session_id: str
    status: str
    """`idled` (waiting for input or a tool approval), `terminated` (a terminal error),
    `outcome_evaluated` (an outcome evaluation iteration finished)."""
    provider_event_id: str | None = None
    """The provider's id of the notification, stable across retries."""
    organization_id: str | None = None
    workspace_id: str | None = None
    occurred_at: datetime | None = None


class AgentSessionIdled(AgentSessionEvent):
    event_type: ClassVar[str] = "ai.agent_session.idled"


class AgentSessionTerminated(AgentSessionEvent):
    event_type: ClassVar[str] = "ai.agent_session.terminated"


class AgentSessionOutcomeEvaluated(AgentSessionEvent):
    event_type: ClassVar[str] = "ai.agent_session.outcome_evaluated"


class RepoRefUpdate(DomainModel):
    ref: str
    """`refs/heads/main`, `refs/tags/v1`, `refs/pr/3`…"""
    old_sha: str | None = None
    """None for a new ref."""
    new_sha: str | None = None
    """None for a deleted ref."""


class RepoUpdated(DomainModel):
    """New content in a model, dataset or Space repository (commits, tags, branches)."""

    event_type: ClassVar[str] = "ai.repo.updated"
    provider: str
    """`huggingface`."""
    repo_type: str
    """`model`, `dataset` or `space`."""
    repo_name: str
    """`owner/name`."""
    repo_id: str | None = None
    head_sha: str | None = None
    """The latest commit on the default branch."""
    private: bool | None = None
    url: str | None = None
    updated_refs: list[RepoRefUpdate] = Field(default_factory=list)
