-- Consent rate by site, day and CMP (the `consent` enricher): of the events
-- that carried a consent decision, the share that granted the purposes in
-- CONSENT_REQUIRED_PURPOSES. A GPC signal counts as a refusal. Events with
-- no string (`missing`) or an undecodable one (`invalid`) are counted
-- beside the rate, not in it; their consent_cmp_id is NULL, as is that of
-- events stored before the enricher was on (counted in `events` only).
SELECT site,
       dt,
       consent_cmp_id,
       events,
       granted,
       denied,
       gpc,
       missing,
       invalid,
       round(100 * CAST(granted AS DOUBLE) / nullif(granted + denied + gpc, 0), 1)
           AS consent_rate_pct
FROM (
    SELECT site,
           dt,
           consent_cmp_id,
           count(*) AS events,
           sum(CASE WHEN consent_status = 'granted' THEN 1 ELSE 0 END) AS granted,
           sum(CASE WHEN consent_status = 'denied' THEN 1 ELSE 0 END) AS denied,
           sum(CASE WHEN consent_status = 'gpc' THEN 1 ELSE 0 END) AS gpc,
           sum(CASE WHEN consent_status = 'missing' THEN 1 ELSE 0 END) AS missing,
           sum(CASE WHEN consent_status = 'invalid' THEN 1 ELSE 0 END) AS invalid
    FROM events
    WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
      AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
    GROUP BY site, dt, consent_cmp_id
) AS by_cmp
ORDER BY site, dt, consent_cmp_id NULLS LAST;
