-- What the reconciliation sweeps repaired: every status a sweep found that differs from the
-- entity's previous state (by as_of), i.e. a change the stream missed (silent socket,
-- reconnect, late start).  previous_status NULL = the sweep was the first to know the entity.
WITH
  states AS (
    SELECT
      'ProductStatusChanged' AS message_type,
      product_id AS entity,
      status,
      source,
      COALESCE(as_of, received_at) AS as_of,
      received_at,
      ingested_at,
      frame_id
    FROM `${project}.${dataset}.product_status_changed`
    UNION ALL
    SELECT
      'SelectionStatusChanged',
      CONCAT(product_id, '|', IFNULL(leg_id, ''), '|', selection_id),
      status,
      source,
      COALESCE(as_of, received_at),
      received_at,
      ingested_at,
      frame_id
    FROM `${project}.${dataset}.selection_status_changed`
    UNION ALL
    SELECT
      'EventStatusChanged',
      event_id,
      status,
      source,
      COALESCE(as_of, received_at),
      received_at,
      ingested_at,
      frame_id
    FROM `${project}.${dataset}.event_status_changed`
    UNION ALL
    SELECT
      'CompetitorStatusChanged',
      CONCAT(event_id, '|', competitor_id),
      status,
      source,
      COALESCE(as_of, received_at),
      received_at,
      ingested_at,
      frame_id
    FROM `${project}.${dataset}.competitor_status_changed`
  ),
  ordered AS (
    SELECT
      *,
      LAG(status) OVER (
        PARTITION BY message_type, entity ORDER BY as_of, received_at, ingested_at, frame_id
      ) AS previous_status
    FROM states
  )
SELECT message_type, entity, previous_status, status, as_of, received_at, frame_id
FROM ordered
WHERE source = 'query' AND (previous_status IS NULL OR previous_status != status)
ORDER BY as_of, message_type, entity
