"""The replay tool: publish a capture file (or a backfill) onto the ingress topic again.

Not part of the connector image: an operator's and a developer's tool (``python -m replay``).
"""
