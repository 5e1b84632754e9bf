-- The current version of every reference event (names for the ids; from the query sweeps):
-- one row per event_id, the newest by as_of (the sweep request's start), then received_at.
SELECT * EXCEPT (_recency)
FROM (
  SELECT
    r.*,
    ROW_NUMBER() OVER (
      PARTITION BY r.event_id
      ORDER BY r.as_of DESC, r.received_at DESC, r.ingested_at DESC, r.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.reference_events` AS r
)
WHERE _recency = 1
