-- Each pool's total over time relative to the off (negative = before it), oldest first.
-- Add e.g. WHERE product_id = '...' (or bet_type / venue) to follow one pool.
SELECT
  product_id,
  bet_type,
  venue,
  start_local,
  off_observed,
  seconds_from_off,
  gross_amount,
  net_amount,
  currency,
  source,
  as_of
FROM `${project}.${dataset}.pool_total_timeline`
ORDER BY start_local, product_id, as_of, frame_id
