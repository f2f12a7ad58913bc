"""Vendor-neutral domain events: the `data` of the CloudEvents that consumers read.

One module per domain (payments, vcs, email, identity…). Import the module you need.
"""
