"""What every tote-realtime service shares, and nothing heavy: no Beam, no Flask, no websockets.

* :mod:`contract.catalog` — the message catalog, the single source of truth for every Tote
  message type (subscription field, typed topic, table, schema, entity key);
* :mod:`contract.ingress` — the ingress contract between the connector and the pipeline
  (attribute names, timestamp format, frame size limit);
* :mod:`contract.settings` — typed readers for settings given as environment variables.

The connector, the web app, the pipeline and the local stack depend on this package; it depends
on none of them (``tests/contract/test_boundaries.py`` checks both directions).
"""
