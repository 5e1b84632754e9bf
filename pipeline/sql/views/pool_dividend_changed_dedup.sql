-- pool_dividend_changed, one row per frame and entity: streaming-insert ids are best-effort (and ignored
-- by the local emulator), so a row can land twice; this view keeps its first insert.  A query page
-- is one frame with many entities, hence the entity key (product_id) in the window.
-- received_at is in the PARTITION BY (a redelivered frame keeps it) so date filters still prune.
SELECT * EXCEPT (_copy)
FROM (
  SELECT
    t.*,
    ROW_NUMBER() OVER (
      PARTITION BY t.frame_id, t.received_at, t.product_id ORDER BY t.ingested_at
    ) AS _copy
  FROM `${project}.${dataset}.pool_dividend_changed` AS t
)
WHERE _copy = 1
