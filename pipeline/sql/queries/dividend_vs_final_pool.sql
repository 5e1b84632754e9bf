-- Each pool's current dividends against its final (latest) pool: the net pool divided by the
-- dividend is the number of winning units (of stake 1) the dividend implies.
SELECT
  d.product_id,
  d.bet_type,
  d.venue,
  d.start_local,
  d.dividend_name,
  d.dividend_status,
  d.amount AS dividend,
  d.currency,
  p.net_amount AS final_net_pool,
  p.gross_amount AS final_gross_pool,
  p.is_finalized,
  ROUND(SAFE_DIVIDE(p.net_amount, d.amount), 2) AS implied_winning_units,
  STRING_AGG(d.selection_name, ', ') AS winners
FROM `${project}.${dataset}.race_dividends` AS d
LEFT JOIN `${project}.${dataset}.race_pools` AS p ON p.product_id = d.product_id
GROUP BY
  d.product_id, d.bet_type, d.venue, d.start_local, d.dividend_name, d.dividend_status, d.amount,
  d.currency, p.net_amount, p.gross_amount, p.is_finalized
ORDER BY d.start_local, d.product_id, d.dividend_name
