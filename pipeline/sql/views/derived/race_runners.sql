-- One row per runner (competitor) of a race: name, cloth/trap number, current status (the newest
-- by as_of, streamed or from a sweep; WITHDRAWN = non-runner), the race's venue and local start,
-- and the runner's finishing position in the latest result.  first_withdrawn_as_of is the first
-- state that said WITHDRAWN (a frame's arrival, or the sweep that found it).
WITH
  ref AS (SELECT * FROM `${project}.${dataset}.latest_competitors`),
  status AS (SELECT * FROM `${project}.${dataset}.latest_competitor_statuses`),
  event AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  result AS (SELECT * FROM `${project}.${dataset}.event_results`),
  runner AS (
    SELECT
      COALESCE(status.event_id, ref.event_id) AS event_id,
      COALESCE(status.competitor_id, ref.competitor_id) AS competitor_id,
      ref.name,
      ref.cloth_number,
      ref.trap_number,
      COALESCE(status.status, ref.entry_status) AS status,
      status.status_as_of,
      status.first_withdrawn_as_of
    FROM ref
    FULL OUTER JOIN status
      ON status.competitor_id = ref.competitor_id AND status.event_id = ref.event_id
  )
SELECT
  runner.event_id,
  event.name AS race_name,
  event.venue,
  event.scheduled_start,
  DATETIME(event.scheduled_start, 'Europe/London') AS start_local,
  runner.competitor_id,
  runner.name AS runner_name,
  runner.cloth_number,
  runner.trap_number,
  runner.status,
  runner.status = 'WITHDRAWN' AS is_non_runner,
  runner.status_as_of,
  runner.first_withdrawn_as_of,
  result.finishing_position,
  result.position
FROM runner
LEFT JOIN event ON event.event_id = runner.event_id
LEFT JOIN result
  ON result.event_id = runner.event_id AND result.competitor_id = runner.competitor_id
