-- The latest pool total of every product (pool): one row per product_id, with its gross and
-- net amounts (one entry per currency), whether the total is final and where it came from.
-- Latest = newest as_of (when the state held: received_at for a frame, the request's start for
-- a query sweep's page), so an older query-derived state is never "latest" even when it arrived
-- later.  is_finalized is TRUE once any total of the pool was final (a query does not know it).
SELECT
  product_id,
  _finalized AS is_finalized,
  gross_amounts,
  net_amounts,
  COALESCE(as_of, received_at) AS updated_at,
  source,
  frame_id
FROM (
  SELECT
    t.*,
    LOGICAL_OR(t.is_finalized) OVER (PARTITION BY t.product_id) AS _finalized,
    ROW_NUMBER() OVER (
      PARTITION BY t.product_id
      ORDER BY COALESCE(t.as_of, t.received_at) DESC, t.received_at DESC, t.ingested_at DESC,
        t.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.pool_total_changed` AS t
)
WHERE _recency = 1
