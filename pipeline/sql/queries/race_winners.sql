-- The winner of every resulted race, with the result's status (PROVISIONAL / FINAL ...).
SELECT event_id, competitor_id, result_status, resulted_at
FROM `${project}.${dataset}.event_results`
WHERE position = 1
ORDER BY resulted_at DESC, event_id
