-- Frames received per hour and message type (each frame counted once); NULL type = unparseable.
SELECT
  TIMESTAMP_TRUNC(received_at, HOUR) AS hour,
  message_type,
  COUNT(*) AS frames
FROM `${project}.${dataset}.raw_frames_dedup`
WHERE received_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)
GROUP BY hour, message_type
ORDER BY hour, message_type
