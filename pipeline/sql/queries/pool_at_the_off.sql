-- Each pool's total at the off (the last total at or before it) against its latest total:
-- how much money came in after the off was seen (late bets, or late-reported ones).
WITH
  at_off AS (
    SELECT *
    FROM `${project}.${dataset}.pool_total_timeline`
    WHERE seconds_from_off <= 0
    QUALIFY ROW_NUMBER() OVER (PARTITION BY product_id ORDER BY as_of DESC, frame_id DESC) = 1
  )
SELECT
  a.product_id,
  a.bet_type,
  a.venue,
  a.start_local,
  a.off_time,
  a.off_observed,
  a.as_of AS at_off_as_of,
  a.gross_amount AS gross_at_off,
  a.net_amount AS net_at_off,
  p.gross_amount AS final_gross,
  p.net_amount AS final_net,
  p.gross_amount - a.gross_amount AS gross_after_off,
  a.currency
FROM at_off AS a
LEFT JOIN `${project}.${dataset}.race_pools` AS p ON p.product_id = a.product_id
ORDER BY a.start_local, a.product_id
