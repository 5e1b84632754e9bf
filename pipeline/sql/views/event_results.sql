-- The latest result of every event (race), one row per competitor with its finishing position
-- (as sent, and as a number when it is one).
SELECT
  t.event_id,
  t.result_status,
  t.received_at AS resulted_at,
  c.competitor_id,
  c.finishing_position,
  SAFE_CAST(c.finishing_position AS INT64) AS position,
  c.status AS competitor_status,
  t.frame_id
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY event_id ORDER BY received_at DESC, ingested_at DESC, frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.event_result_changed`
) AS t
CROSS JOIN UNNEST(t.competitor_results) AS c
WHERE t._recency = 1
