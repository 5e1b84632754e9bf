"""The domain core of tote-realtime: catalog, ingress contract, parse/validate/dedup/route.

Importing this package must not import Apache Beam: the connector and the web app use the catalog
and the ingress contract without it.  The Beam shell lives in ``pipeline.transforms`` and
``pipeline.main``.
"""
