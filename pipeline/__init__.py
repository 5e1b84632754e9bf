"""The domain core of tote-realtime: parse, validate, deduplicate and route Tote frames.

The plain functions (``envelope``, ``normalize``, ``records``, ``dedup``, ``core``) import no
Beam; the Beam shell lives in ``pipeline.transforms`` and ``pipeline.main``.  What the connector
and the web app share with the pipeline (the catalog, the ingress contract) lives in
:mod:`contract`, so neither service ever imports this package.
"""
