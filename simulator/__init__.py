"""A Tote simulator: the GraphQL-over-WebSocket server and a synthetic race day.

``racing`` generates the day's messages (plain, deterministic for a seed), ``session`` is the
server side of both subprotocols without I/O, ``server`` serves them over websockets with an
HTTP control surface for statistics and fault injection.  Run ``python -m simulator``.
"""
