-- Hourly traffic of one site on one day. event_time is a TIMESTAMP column
-- (UTC), so date_trunc works on it directly, with no parsing.
SELECT date_trunc('hour', event_time) AS hour_utc,
       count(*) AS events,
       count(DISTINCT anonymous_id) AS visitors
FROM events
WHERE dt = '2026-11-24'
  AND site = 'bbc.co.uk'
GROUP BY 1
ORDER BY 1;
