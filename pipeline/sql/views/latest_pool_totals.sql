-- The latest pool total of every product (pool): one row per product_id, with its gross and
-- net amounts (one entry per currency) and whether the total is final.
SELECT
  product_id,
  is_finalized,
  gross_amounts,
  net_amounts,
  received_at AS updated_at,
  frame_id
FROM (
  SELECT
    t.*,
    ROW_NUMBER() OVER (
      PARTITION BY t.product_id ORDER BY t.received_at DESC, t.ingested_at DESC, t.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.pool_total_changed` AS t
)
WHERE _recency = 1
