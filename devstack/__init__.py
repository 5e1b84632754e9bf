"""Local stand-ins for the cloud: the official Pub/Sub emulator, the BigQuery emulator, and
provisioning of topics, subscriptions and tables from the message catalog.

Shared by ``make run``, the tests and the benchmarks, so every one of them starts services the
same way: own process group, free or configured port, readiness polled, stopped by group.
"""
