-- The current status of every event (race) in the typed table, streamed or derived from a sweep:
-- one row per event_id.  Current = newest as_of (see latest_pool_totals).  off_at is the first
-- time the race was seen STARTED (NULL until then, or when only later states were seen).
SELECT
  event_id,
  status,
  COALESCE(as_of, received_at) AS status_as_of,
  _off_at AS off_at,
  source
FROM (
  SELECT
    s.*,
    MIN(IF(s.status = 'STARTED', COALESCE(s.as_of, s.received_at), NULL)) OVER (
      PARTITION BY s.event_id
    ) AS _off_at,
    ROW_NUMBER() OVER (
      PARTITION BY s.event_id
      ORDER BY COALESCE(s.as_of, s.received_at) DESC, s.received_at DESC, s.ingested_at DESC,
        s.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.event_status_changed` AS s
)
WHERE _recency = 1
