-- The latest result of every event (race), one row per competitor with its finishing position
-- (as sent, and as a number when it is one).  Latest = newest as_of (see latest_pool_totals).
SELECT
  t.event_id,
  t.result_status,
  COALESCE(t.as_of, t.received_at) AS resulted_at,
  c.competitor_id,
  c.finishing_position,
  SAFE_CAST(c.finishing_position AS INT64) AS position,
  c.status AS competitor_status,
  t.source,
  t.frame_id
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY event_id
      ORDER BY COALESCE(as_of, received_at) DESC, received_at DESC, ingested_at DESC, frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.event_result_changed`
) AS t
CROSS JOIN UNNEST(t.competitor_results) AS c
WHERE t._recency = 1
