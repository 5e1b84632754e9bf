"""Helpers for tests and benchmarks only: example frames built from the catalog.

Never imported by a service at run time; the local system (``devstack``) uses the examples for
its readiness probe.
"""
