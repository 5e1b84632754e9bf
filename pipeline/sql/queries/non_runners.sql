-- The non-runners (withdrawn runners) of every race, by race start, with when the withdrawal
-- was first known (the frame that said so, or the sweep that found it).
SELECT
  start_local,
  venue,
  race_name,
  event_id,
  competitor_id,
  runner_name,
  cloth_number,
  trap_number,
  first_withdrawn_as_of AS withdrawn_as_of
FROM `${project}.${dataset}.race_runners`
WHERE is_non_runner
ORDER BY start_local, venue, cloth_number, competitor_id
