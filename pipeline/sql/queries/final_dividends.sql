-- The final dividends of each pool (latest announcement of each dividend name).
SELECT
  product_id,
  dividend_name,
  dividend_type,
  amount,
  currency,
  ARRAY_TO_STRING(selection_ids, ',') AS winning_selections,
  received_at
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY product_id, dividend_name ORDER BY as_of DESC, received_at DESC, frame_id DESC
    ) AS _recency
  FROM `${project}.${dataset}.dividend_history`
  WHERE dividend_status = 'FINAL'
)
WHERE _recency = 1
ORDER BY product_id, dividend_name
