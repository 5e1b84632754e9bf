-- Each bet's lifecycle in one timeline: all six Bet* messages (BetAccepted, BetRejected,
-- BetFailed, BetCancelled, BetResulted, BetSettled) in arrival order, duplicate frames removed.
-- step counts from 1; is_latest marks the bet's current state.
SELECT
  bet_id,
  customer_bet_id,
  message_type,
  status,
  reason,
  returns_amount,
  returns_currency,
  received_at,
  ROW_NUMBER() OVER (PARTITION BY bet_id ORDER BY received_at, ingested_at, frame_id) AS step,
  ROW_NUMBER() OVER (PARTITION BY bet_id ORDER BY received_at DESC, ingested_at DESC, frame_id DESC) = 1
    AS is_latest,
  frame_id
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY frame_id, received_at ORDER BY ingested_at) AS _copy
  FROM `${project}.${dataset}.bet_lifecycle`
)
WHERE _copy = 1
