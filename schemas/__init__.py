"""Vendor-neutral domain events: the `data` of the CloudEvents that consumers read."""

from schemas.base import DomainModel, Money
from schemas.passthrough import VendorPassthrough
from schemas.payments import PaymentFailed, PaymentRefunded, PaymentSucceeded
from schemas.vcs import VcsCommit, VcsPullRequest, VcsPush

__all__ = [
    "DomainModel",
    "Money",
    "PaymentFailed",
    "PaymentRefunded",
    "PaymentSucceeded",
    "VcsCommit",
    "VcsPullRequest",
    "VcsPush",
    "VendorPassthrough",
]
