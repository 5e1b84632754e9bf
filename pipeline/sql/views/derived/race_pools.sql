-- One row per pool (product): bet type, the race (venue, local Europe/London start; the first
-- leg's race for a multi-leg pool), current selling status, and the latest gross and net total
-- in the pool's currency.  Status and total are the newest by as_of, streamed or from a sweep;
-- names come from the reference tables (NULL until a sweep has named the pool).
WITH
  product AS (SELECT * FROM `${project}.${dataset}.latest_products`),
  event AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  status AS (
    SELECT * EXCEPT (_recency)
    FROM (
      SELECT
        s.product_id,
        s.status,
        COALESCE(s.as_of, s.received_at) AS status_as_of,
        ROW_NUMBER() OVER (
          PARTITION BY s.product_id
          ORDER BY COALESCE(s.as_of, s.received_at) DESC, s.received_at DESC, s.ingested_at DESC,
            s.frame_id DESC
        ) AS _recency
      FROM `${project}.${dataset}.product_status_changed` AS s
    )
    WHERE _recency = 1
  ),
  total AS (
    SELECT product_id, gross_amounts, net_amounts, is_finalized, updated_at AS total_as_of
    FROM `${project}.${dataset}.latest_pool_totals`
  ),
  ids AS (
    SELECT product_id FROM product
    UNION DISTINCT
    SELECT product_id FROM status
    UNION DISTINCT
    SELECT product_id FROM total
  ),
  pool AS (
    SELECT
      ids.product_id,
      product.name AS product_name,
      product.bet_type,
      product.event_id,
      ARRAY_LENGTH(product.leg_ids) AS legs,
      COALESCE(status.status, product.selling_status) AS status,
      status.status_as_of,
      COALESCE(product.currency, total.gross_amounts[SAFE_OFFSET(0)].currency) AS currency,
      total.gross_amounts,
      total.net_amounts,
      total.is_finalized,
      total.total_as_of
    FROM ids
    LEFT JOIN product ON product.product_id = ids.product_id
    LEFT JOIN status ON status.product_id = ids.product_id
    LEFT JOIN total ON total.product_id = ids.product_id
  )
SELECT
  pool.product_id,
  pool.product_name,
  pool.bet_type,
  pool.legs,
  pool.event_id,
  event.name AS race_name,
  event.venue,
  event.country,
  event.scheduled_start,
  DATETIME(event.scheduled_start, 'Europe/London') AS start_local,
  pool.status,
  pool.status_as_of,
  pool.currency,
  (SELECT g.amount FROM UNNEST(pool.gross_amounts) AS g WHERE g.currency = pool.currency LIMIT 1)
    AS gross_amount,
  (SELECT n.amount FROM UNNEST(pool.net_amounts) AS n WHERE n.currency = pool.currency LIMIT 1)
    AS net_amount,
  pool.is_finalized,
  pool.total_as_of
FROM pool
LEFT JOIN event ON event.event_id = pool.event_id
