-- Every dividend a pool has announced, in order: one row per (message, dividend), duplicate
-- frames removed.  selection_ids are the winning selections the dividend pays on.  received_at
-- is the arrival; as_of when the dividends held (a sweep's request start for source = 'query').
SELECT
  t.product_id,
  t.received_at,
  COALESCE(t.as_of, t.received_at) AS as_of,
  t.source,
  d.name AS dividend_name,
  d.type AS dividend_type,
  d.status AS dividend_status,
  d.amount,
  d.currency,
  d.selection_ids,
  t.frame_id
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY frame_id, received_at, product_id ORDER BY ingested_at) AS _copy
  FROM `${project}.${dataset}.pool_dividend_changed`
) AS t
CROSS JOIN UNNEST(t.dividends) AS d
WHERE t._copy = 1
