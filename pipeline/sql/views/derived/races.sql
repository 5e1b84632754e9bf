-- One row per race (event): name, venue, country, scheduled start in UTC and as the local
-- Europe/London wall-clock time, current status, when it went off, result status and runners.
-- Names come from the reference tables (query sweeps); statuses from the typed tables, streamed
-- or derived from a sweep, the newest by as_of.  off_at is the first time the race was seen
-- STARTED (NULL until then, or when only later states were seen); off_time falls back to the
-- scheduled start.  A race seen only on the stream has NULL names until a sweep names it.
WITH
  ref AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  status AS (SELECT * FROM `${project}.${dataset}.latest_event_statuses`),
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
  runners AS (
    SELECT
      event_id,
      COUNT(*) AS runners,
      COUNTIF(status = 'WITHDRAWN') AS non_runners
    FROM `${project}.${dataset}.latest_competitor_statuses`
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
  status.off_at,
  COALESCE(status.off_at, ref.scheduled_start) AS off_time,
  result.result_status,
  runners.runners,
  runners.non_runners
FROM ids
LEFT JOIN ref ON ref.event_id = ids.event_id
LEFT JOIN status ON status.event_id = ids.event_id
LEFT JOIN result ON result.event_id = ids.event_id
LEFT JOIN runners ON runners.event_id = ids.event_id
