-- bet_lifecycle, one row per frame: streaming-insert ids are best-effort (and ignored by the local
-- emulator), so a frame can land twice; this view keeps its first insert.  received_at is in
-- the window's PARTITION BY (a redelivered frame keeps it) so date filters still prune partitions.
SELECT * EXCEPT (_copy)
FROM (
  SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.frame_id, t.received_at ORDER BY t.ingested_at) AS _copy
  FROM `${project}.${dataset}.bet_lifecycle` AS t
)
WHERE _copy = 1
