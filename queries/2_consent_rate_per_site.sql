-- Consent rate per site: the share of consent-banner interactions that
-- accepted all cookies (action = 'accept_all').
SELECT site,
       count(*) AS consent_events,
       sum(CASE WHEN action = 'accept_all' THEN 1 ELSE 0 END) AS accepted_all,
       round(100 * CAST(sum(CASE WHEN action = 'accept_all' THEN 1 ELSE 0 END) AS DOUBLE) / count(*), 1)
           AS accept_rate_pct
FROM events
WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
  AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
  AND type = 'consent'
GROUP BY site
ORDER BY consent_events DESC, site;
