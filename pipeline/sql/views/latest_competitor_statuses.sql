-- The current status of every runner (competitor) in the typed table, streamed or derived from a
-- sweep: one row per (event_id, competitor_id).  Current = newest as_of (see
-- latest_pool_totals); WITHDRAWN = non-runner.  first_withdrawn_as_of is the first state that
-- said WITHDRAWN (a frame's arrival, or the sweep that found it).
SELECT
  event_id,
  competitor_id,
  status,
  COALESCE(as_of, received_at) AS status_as_of,
  _first_withdrawn AS first_withdrawn_as_of,
  source
FROM (
  SELECT
    c.*,
    MIN(IF(c.status = 'WITHDRAWN', COALESCE(c.as_of, c.received_at), NULL)) OVER (
      PARTITION BY c.event_id, c.competitor_id
    ) AS _first_withdrawn,
    ROW_NUMBER() OVER (
      PARTITION BY c.event_id, c.competitor_id
      ORDER BY COALESCE(c.as_of, c.received_at) DESC, c.received_at DESC, c.ingested_at DESC,
        c.frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.competitor_status_changed` AS c
)
WHERE _recency = 1
