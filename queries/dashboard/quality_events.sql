-- requires: event_time_source, event_fingerprint
-- Data quality of the delivered events, bots included: copies delivered
-- more than once (the same event_fingerprint: Firehose retries and
-- re-ingested records sent twice), events whose own time was unusable so
-- that the arrival time stands in (event_time_source = 'arrival'), and
-- events with no site (partition site=unknown).
SELECT count(*) AS delivered,
       count(event_fingerprint) - count(DISTINCT event_fingerprint) AS extra_copies,
       count_if(event_time_source = 'arrival') AS arrival_time,
       round(100 * CAST(count_if(event_time_source = 'arrival') AS DOUBLE) / count(*), 2) AS arrival_pct,
       count_if(site IS NULL OR site = 'unknown') AS no_site
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
