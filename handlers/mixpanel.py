"""Mixpanel cohort sync to a custom webhook: HTTP Basic auth; one CloudEvent per member.

Mixpanel signs nothing. Its webhook connection offers optional Basic authentication; this handler
requires it (`basic_auth`), so an endpoint cannot be left open by omission.

Each request is one page of one sync: `action` (`members` = the whole cohort, `add_members` /
`remove_members` = a diff), and `parameters` with the cohort, the sync's `mixpanel_session_id`,
`page_info` and up to 1000 `members`. Mixpanel requires a JSON answer `{"action": <the action
sent>, "status": "success"}`; `reply()` gives it, for duplicates too (a retry must be acknowledged
the same way).

Dedup: the delivery id is cohort + session + action + page (a diff sync sends `add_members` and
`remove_members` under one session, so the page alone would collide). Members are batch items:
`cohort:session:action:distinct_id`, so a page Mixpanel re-sends after a failure publishes nothing
twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from ingest.handlers import base
from ingest.handlers.schemes.credentials import BasicAuthVerified
from ingest.schemas import analytics
from ingest.sources import SourceConfig

ACTIONS = frozenset({"members", "add_members", "remove_members"})
IDENTIFYING_FIELDS = frozenset({"mixpanel_distinct_id", "email", "first_name", "last_name"})
MAX_ID_LENGTH = 255


def _id_text(raw: Any, what: str) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise base.MalformedRequestError(f"{what} is missing or not a string")
    return raw


def _compact(key: str) -> str:
    """A dedup key fit for the inbox (255 characters): hashed when the vendor's ids are long."""
    return key if len(key) <= MAX_ID_LENGTH else base.text_digest(key)


def _page(parameters: Mapping[str, Any]) -> int:
    info = parameters.get("page_info")
    if info is None:
        return 1  # a sync small enough for one message
    count = info.get("page_count") if isinstance(info, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise base.MalformedRequestError("parameters.page_info.page_count is not a page number")
    return count


def _parameters(document: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    action = document.get("action")
    if action not in ACTIONS:
        raise base.MalformedRequestError("action must be members, add_members or remove_members")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        raise base.MalformedRequestError("parameters must be a JSON object")
    return str(action), parameters


def _optional_text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


class MixpanelHandler(BasicAuthVerified):
    vendor: ClassVar[str] = "mixpanel"
    summary: ClassVar[str] = "HTTP Basic auth (basic_auth); cohort sync, no signature"
    mapped_types: ClassVar[Mapping[str, str]] = {
        "members": f"{analytics.CohortMemberAdded.event_type} (full_sync: true), one per member",
        "add_members": f"{analytics.CohortMemberAdded.event_type}, one per member",
        "remove_members": f"{analytics.CohortMemberRemoved.event_type}, one per member",
    }

    @override
    def identify(self, request: base.InboundRequest, source: SourceConfig) -> base.Identity:
        action, parameters = _parameters(request.json_object())
        cohort = _id_text(parameters.get("mixpanel_cohort_id"), "mixpanel_cohort_id")
        session = _id_text(parameters.get("mixpanel_session_id"), "mixpanel_session_id")
        event_id = _compact(f"{cohort}:{session}:{action}:{_page(parameters)}")
        return base.Identity(event_id=event_id, event_type=action)

    @override
    def reply(self, request: base.InboundRequest, identity: base.Identity) -> base.Reply | None:
        body = json.dumps({"action": identity.event_type, "status": "success"}).encode()
        return base.Reply(status=200, body=body)

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        action, parameters = _parameters(delivery.json_object())
        cohort = _id_text(parameters.get("mixpanel_cohort_id"), "mixpanel_cohort_id")
        session = _id_text(parameters.get("mixpanel_session_id"), "mixpanel_session_id")
        members = parameters.get("members") or []
        if not isinstance(members, list):
            raise ValueError("parameters.members is not a list")
        model = (
            analytics.CohortMemberRemoved
            if action == "remove_members"
            else analytics.CohortMemberAdded
        )
        # Mapped whole, not item by item (`base.map_items`): a full sync published without the
        # member it could not read would tell consumers that member had left the cohort.
        emitted: list[base.Emitted] = []
        for member in members:
            if not isinstance(member, dict):
                raise ValueError("a cohort member is not a JSON object")
            distinct_id = member.get("mixpanel_distinct_id")
            if not isinstance(distinct_id, str | int) or isinstance(distinct_id, bool):
                raise ValueError("a cohort member has no mixpanel_distinct_id")
            user_id = str(distinct_id)
            data = model(
                provider="mixpanel",
                cohort_id=cohort,
                cohort_name=_optional_text(parameters.get("mixpanel_cohort_name")),
                user_id=user_id,
                email=_optional_text(member.get("email")),
                first_name=_optional_text(member.get("first_name")),
                last_name=_optional_text(member.get("last_name")),
                properties={k: v for k, v in member.items() if k not in IDENTIFYING_FIELDS},
                sync_id=session,
                full_sync=action == "members",
            )
            emitted.append(
                base.Emitted(
                    data=data,
                    # Per cohort, in order: a full sync followed by diffs only makes sense whole.
                    key=cohort,
                    subject=user_id,
                    item_id=_compact(f"{cohort}:{session}:{action}:{user_id}"),
                )
            )
        return emitted
