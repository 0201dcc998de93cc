-- Page views per site and day with Firehose's redeliveries removed.
-- Firehose delivers at least once: a retried batch can write the same
-- record twice. event_fingerprint is the same for every copy of the same
-- bytes, so keeping the first row of each fingerprint counts each event once.
WITH numbered AS (
  SELECT dt, site, type,
         row_number() OVER (PARTITION BY event_fingerprint ORDER BY received_at) AS copy
  FROM events
  WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
    AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
)
SELECT dt, site,
       count(*) AS delivered,
       sum(CASE WHEN copy = 1 THEN 1 ELSE 0 END) AS page_views
FROM numbered
WHERE type = 'page_view'
GROUP BY dt, site
ORDER BY dt, page_views DESC, site;
