"""Identity: users, logins and sessions, whichever provider authenticated them (Auth0, Clerk, Okta).

CloudEvent types, all under the `identity.` prefix so they never clash with another domain's
`user.*` (a CRM's users, a chat app's users):

| type                       | what happened                                                |
|----------------------------|--------------------------------------------------------------|
| `identity.user.created`    | an account exists that did not before (signup, admin, SCIM)  |
| `identity.user.updated`    | an account's profile changed                                 |
| `identity.user.deleted`    | an account is gone                                           |
| `identity.login.succeeded` | someone proved who they are                                  |
| `identity.login.failed`    | someone tried and did not (`reason` says why, when we know)  |
| `identity.session.started` | the provider reports a session separately from the login     |
| `identity.session.ended`   | a session ended: logout, removal, revocation                 |

A successful login that opens a session is one `identity.login.succeeded` carrying `session_id`,
not a login and a session event: counting logins must not count twice. `identity.session.started`
comes from providers that report sessions on their own (Clerk's `session.created`).

Every event is keyed by `user_id` when there is one, so one user's events stay in order.
Optional fields are `None` when the provider did not say; nothing is guessed. In particular
`username` is the identifier the user typed or logs in with (Auth0's `user_name`, Okta's
`alternateId`), which is often but not necessarily an email address, and is never copied into
`email`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ingest.schemas.base import DomainModel


class IdentityEvent(DomainModel):
    event_type: ClassVar[str]
    """The CloudEvent type; set by each concrete event."""
    provider: str
    """Who authenticated the user: `auth0`, `clerk`, `okta`."""
    provider_event_id: str | None = None
    """The provider's id of this very event (Auth0 `log_id`, Okta `uuid`, Clerk's message id)."""
    user_id: str | None = None
    """The provider's user id (`auth0|…`, `user_…`, `00u…`)."""
    email: str | None = None
    username: str | None = None
    name: str | None = None
    occurred_at: datetime
    ip: str | None = None
    """The end user's address as the provider saw it, not the address that posted the webhook."""
    user_agent: str | None = None


class UserEvent(IdentityEvent):
    """A user account was created, updated or deleted: the user is always named."""

    user_id: str


class UserCreated(UserEvent):
    event_type: ClassVar[str] = "identity.user.created"


class UserUpdated(UserEvent):
    event_type: ClassVar[str] = "identity.user.updated"


class UserDeleted(UserEvent):
    event_type: ClassVar[str] = "identity.user.deleted"


class LoginSucceeded(IdentityEvent):
    event_type: ClassVar[str] = "identity.login.succeeded"
    user_id: str
    session_id: str | None = None
    application: str | None = None
    """The application the user signed in to, when the provider names it."""
    connection: str | None = None
    """How: an Auth0 connection, an Okta credential provider…"""


class LoginFailed(IdentityEvent):
    """`user_id` is absent when the account does not exist (a mistyped username)."""

    event_type: ClassVar[str] = "identity.login.failed"
    reason: str | None = None
    """The provider's explanation as given: `Wrong email or password.`, `INVALID_CREDENTIALS`."""
    failure_code: str | None = None
    """The provider's machine-readable code when it has one (Auth0's `fp`, `fu`…)."""
    application: str | None = None
    connection: str | None = None


class SessionStarted(IdentityEvent):
    event_type: ClassVar[str] = "identity.session.started"
    user_id: str
    session_id: str


class SessionEnded(IdentityEvent):
    event_type: ClassVar[str] = "identity.session.ended"
    user_id: str
    session_id: str | None = None
    reason: str | None = None
    """How it ended, in the provider's words: `ended`, `removed`, `revoked` (Clerk), `logout`."""


IDENTITY_EVENT_TYPES = frozenset(
    model.event_type
    for model in (
        UserCreated,
        UserUpdated,
        UserDeleted,
        LoginSucceeded,
        LoginFailed,
        SessionStarted,
        SessionEnded,
    )
)
