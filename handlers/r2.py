"""Cloudflare R2 event notifications, forwarded by a consumer Worker signed with Standard Webhooks.

R2 has no HTTP webhooks: a bucket's event notification rules put messages on a Cloudflare Queue.
Our recipe (docs/vendors/r2.md) is a small consumer Worker that POSTs each queue message's body
unchanged, signed the Standard Webhooks way (`webhook-id` = the queue message id, which stays the
same when the queue redelivers; `webhook-timestamp`; `webhook-signature: v1,<base64 HMAC>`), so
verification is exactly StandardWebhooksHandler's and dedup is on the queue message id.

The message body is R2's documented notification:
`{account, action, bucket, object: {key, size, eTag}, eventTime, copySource?}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from typing_extensions import override

from ingest.handlers import _storage, base
from ingest.handlers.standard_webhooks import StandardWebhooksHandler

CREATE_ACTIONS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})
DELETE_ACTIONS = frozenset({"DeleteObject", "LifecycleDeletion"})


class R2Handler(StandardWebhooksHandler):
    vendor: ClassVar[str] = "r2"
    summary: ClassVar[str] = (
        "queue consumer Worker forwards R2 notifications signed with Standard Webhooks (v1 HMAC)"
    )
    mapped_types: ClassVar[Mapping[str, str]] = {
        "PutObject": "storage.object.created",
        "CopyObject": "storage.object.created",
        "CompleteMultipartUpload": "storage.object.created",
        "DeleteObject": "storage.object.deleted",
        "LifecycleDeletion": "storage.object.deleted",
    }

    type_field: ClassVar[str] = "action"

    @override
    def normalize(self, delivery: base.Delivery) -> list[base.Emitted]:
        message = delivery.json_object()
        action = delivery.event_type
        if action not in CREATE_ACTIONS and action not in DELETE_ACTIONS:
            return [base.passthrough(delivery, message)]
        bucket, obj = message["bucket"], message["object"]
        key = obj["key"]
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise ValueError("R2 notification has no bucket and object key")
        occurred_at = base.iso_time(message.get("eventTime")) or delivery.received_at
        return [
            _storage.object_event(
                "r2",
                created=action in CREATE_ACTIONS,
                bucket=bucket,
                key=key,
                action=action,
                occurred_at=occurred_at,
                size=obj.get("size"),
                etag=obj.get("eTag"),
            )
        ]
