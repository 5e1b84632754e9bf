-- One line per bet: where it is now, what it returned, and how long it took to get there.
SELECT
  bet_id,
  MAX(IF(is_latest, message_type, NULL)) AS current_state,
  MAX(IF(is_latest, status, NULL)) AS current_status,
  MIN(IF(message_type = 'BetAccepted', received_at, NULL)) AS accepted_at,
  SUM(IF(message_type = 'BetResulted', returns_amount, NULL)) AS returns,
  TIMESTAMP_DIFF(MAX(received_at), MIN(received_at), SECOND) AS seconds_in_lifecycle,
  COUNT(*) AS messages
FROM `${project}.${dataset}.bet_timeline`
GROUP BY bet_id
ORDER BY bet_id
