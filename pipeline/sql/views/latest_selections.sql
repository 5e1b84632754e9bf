-- The current version of every reference selection (names for the ids; from the query sweeps):
-- one row per selection_id, the newest by as_of (the sweep request's start), then received_at.
SELECT * EXCEPT (_recency)
FROM (
  SELECT
    r.*,
    ROW_NUMBER() OVER (
      PARTITION BY r.selection_id
      ORDER BY r.as_of DESC, r.received_at DESC, r.ingested_at DESC, r.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.reference_selections` AS r
)
WHERE _recency = 1
