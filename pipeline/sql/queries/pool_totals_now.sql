-- Current GBP pool totals, biggest pools first.
SELECT
  product_id,
  is_finalized,
  (SELECT g.amount FROM UNNEST(gross_amounts) AS g WHERE g.currency = 'GBP') AS gross_gbp,
  (SELECT n.amount FROM UNNEST(net_amounts) AS n WHERE n.currency = 'GBP') AS net_gbp,
  updated_at
FROM `${project}.${dataset}.latest_pool_totals`
ORDER BY gross_gbp DESC, product_id
