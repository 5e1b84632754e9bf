-- Every pool total a pool had, with its race and the time from the off: one row per total
-- (duplicate inserts removed), in the pool's currency.  as_of is when the total held (a
-- sweep's request start for source = 'query').  off_time is the first time the race was seen
-- STARTED, else its scheduled start (off_observed says which); seconds_from_off is negative
-- before the off.  A multi-leg pool is timed against its first leg's race.
WITH
  product AS (SELECT * FROM `${project}.${dataset}.latest_products`),
  event AS (SELECT * FROM `${project}.${dataset}.latest_events`),
  offs AS (SELECT event_id, off_at FROM `${project}.${dataset}.latest_event_statuses`),
  totals AS (SELECT * FROM `${project}.${dataset}.pool_total_changed_dedup`),
  timeline AS (
    SELECT
      totals.product_id,
      product.bet_type,
      product.event_id,
      event.venue,
      event.scheduled_start,
      COALESCE(offs.off_at, event.scheduled_start) AS off_time,
      offs.off_at IS NOT NULL AS off_observed,
      COALESCE(totals.as_of, totals.received_at) AS as_of,
      totals.source,
      COALESCE(product.currency, totals.gross_amounts[SAFE_OFFSET(0)].currency) AS currency,
      totals.gross_amounts,
      totals.net_amounts,
      totals.is_finalized,
      totals.frame_id
    FROM totals
    LEFT JOIN product ON product.product_id = totals.product_id
    LEFT JOIN event ON event.event_id = product.event_id
    LEFT JOIN offs ON offs.event_id = product.event_id
  )
SELECT
  product_id,
  bet_type,
  event_id,
  venue,
  DATETIME(scheduled_start, 'Europe/London') AS start_local,
  off_time,
  off_observed,
  as_of,
  TIMESTAMP_DIFF(as_of, off_time, SECOND) AS seconds_from_off,
  source,
  currency,
  (SELECT g.amount FROM UNNEST(gross_amounts) AS g WHERE g.currency = timeline.currency LIMIT 1)
    AS gross_amount,
  (SELECT n.amount FROM UNNEST(net_amounts) AS n WHERE n.currency = timeline.currency LIMIT 1)
    AS net_amount,
  is_finalized,
  frame_id
FROM timeline
