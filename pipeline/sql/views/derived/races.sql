-- One row per race (event): name, venue, country, scheduled start in UTC and as the local
-- Europe/London wall-clock time, current status, when it went off, result status and runners.
-- Names come from the reference tables (query sweeps); statuses from the typed tables, streamed
-- or derived from a sweep, the newest by as_of.  off_at is the first time the race was seen
-- STARTED (NULL until then, or when only later states were seen); off_time falls back to the
-- scheduled start.  A race seen only on the stream has NULL names until a sweep names it.
WITH
  ref AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  status AS (
    SELECT * EXCEPT (_recency)
    FROM (
      SELECT
        s.event_id,
        s.status,
        COALESCE(s.as_of, s.received_at) AS status_as_of,
        ROW_NUMBER() OVER (
          PARTITION BY s.event_id
          ORDER BY COALESCE(s.as_of, s.received_at) DESC, s.received_at DESC, s.ingested_at DESC,
            s.frame_id DESC
        ) AS _recency
      FROM `${project}.${dataset}.event_status_changed` AS s
    )
    WHERE _recency = 1
  ),
  offs AS (
    SELECT event_id, MIN(COALESCE(as_of, received_at)) AS off_at
    FROM `${project}.${dataset}.event_status_changed`
    WHERE status = 'STARTED'
    GROUP BY event_id
  ),
  result AS (
    SELECT * EXCEPT (_recency)
    FROM (
      SELECT
        e.event_id,
        e.result_status,
        ROW_NUMBER() OVER (
          PARTITION BY e.event_id
          ORDER BY COALESCE(e.as_of, e.received_at) DESC, e.received_at DESC, e.ingested_at DESC,
            e.frame_id DESC
        ) AS _recency
      FROM `${project}.${dataset}.event_result_changed` AS e
    )
    WHERE _recency = 1
  ),
  runner AS (
    SELECT * EXCEPT (_recency)
    FROM (
      SELECT
        c.event_id,
        c.competitor_id,
        c.status,
        ROW_NUMBER() OVER (
          PARTITION BY c.event_id, c.competitor_id
          ORDER BY COALESCE(c.as_of, c.received_at) DESC, c.received_at DESC, c.ingested_at DESC,
            c.frame_id DESC
        ) AS _recency
      FROM `${project}.${dataset}.competitor_status_changed` AS c
    )
    WHERE _recency = 1
  ),
  runners AS (
    SELECT
      event_id,
      COUNT(*) AS runners,
      COUNTIF(status = 'WITHDRAWN') AS non_runners
    FROM runner
    GROUP BY event_id
  ),
  ids AS (
    SELECT event_id FROM ref
    UNION DISTINCT
    SELECT event_id FROM status
  )
SELECT
  ids.event_id,
  ref.name AS race_name,
  ref.venue,
  ref.country,
  ref.scheduled_start,
  DATETIME(ref.scheduled_start, 'Europe/London') AS start_local,
  EXTRACT(DATE FROM ref.scheduled_start AT TIME ZONE 'Europe/London') AS race_date,
  COALESCE(status.status, ref.status) AS status,
  status.status_as_of,
  offs.off_at,
  COALESCE(offs.off_at, ref.scheduled_start) AS off_time,
  result.result_status,
  runners.runners,
  runners.non_runners
FROM ids
LEFT JOIN ref ON ref.event_id = ids.event_id
LEFT JOIN status ON status.event_id = ids.event_id
LEFT JOIN offs ON offs.event_id = ids.event_id
LEFT JOIN result ON result.event_id = ids.event_id
LEFT JOIN runners ON runners.event_id = ids.event_id
