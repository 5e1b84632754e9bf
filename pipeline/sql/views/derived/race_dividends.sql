-- The current dividends of every pool, one row per dividend and winning selection (a dividend
-- without selections keeps one row, selection_id NULL), with the
-- pool's bet type and race and the winning selection's name and runner.  Current = the pool's
-- newest dividend announcement by as_of (streamed or from a sweep); dividend_status says
-- whether it is PROVISIONAL or FINAL.
WITH
  product AS (SELECT * FROM `${project}.${dataset}.latest_products`),
  event AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  selection AS (SELECT * FROM `${project}.${dataset}.latest_selections`),
  announcement AS (
    SELECT * EXCEPT (_recency)
    FROM (
      SELECT
        d.*,
        ROW_NUMBER() OVER (
          PARTITION BY d.product_id
          ORDER BY COALESCE(d.as_of, d.received_at) DESC, d.received_at DESC, d.ingested_at DESC,
            d.frame_id DESC
        ) AS _recency
      FROM `${project}.${dataset}.pool_dividend_changed` AS d
    )
    WHERE _recency = 1
  ),
  dividend AS (
    SELECT
      a.product_id,
      COALESCE(a.as_of, a.received_at) AS as_of,
      a.source,
      d.name AS dividend_name,
      d.type AS dividend_type,
      d.status AS dividend_status,
      d.amount,
      d.currency,
      d.selection_ids
    FROM announcement AS a
    CROSS JOIN UNNEST(a.dividends) AS d
  ),
  winner AS (
    SELECT dividend.* EXCEPT (selection_ids), selection_id
    FROM dividend
    LEFT JOIN UNNEST(dividend.selection_ids) AS selection_id
  )
SELECT
  winner.product_id,
  product.bet_type,
  product.event_id,
  event.venue,
  DATETIME(event.scheduled_start, 'Europe/London') AS start_local,
  winner.dividend_name,
  winner.dividend_type,
  winner.dividend_status,
  winner.amount,
  winner.currency,
  winner.selection_id,
  selection.name AS selection_name,
  selection.competitor_id,
  winner.as_of,
  winner.source
FROM winner
LEFT JOIN product ON product.product_id = winner.product_id
LEFT JOIN event ON event.event_id = product.event_id
LEFT JOIN selection ON selection.selection_id = winner.selection_id
