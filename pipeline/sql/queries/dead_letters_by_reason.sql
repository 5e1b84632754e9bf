-- What failed in the last 24 hours, by stage and reason, most frequent first.
SELECT
  stage,
  reason,
  COUNT(*) AS failures,
  MIN(failed_at) AS first_failed_at,
  MAX(failed_at) AS last_failed_at
FROM `${project}.${dataset}.dead_letters`
WHERE failed_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
GROUP BY stage, reason
ORDER BY failures DESC, stage, reason
