-- Page views per site and day.
-- Runs unchanged in Athena (table events) and locally (tools/athena_local.py).
-- With the default layout the template projects `site` as an injected
-- partition column, so Athena needs the sites listed: site IN (...).
SELECT dt, site, count(*) AS page_views
FROM events
WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
  AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
  AND type = 'page_view'
GROUP BY dt, site
ORDER BY dt, page_views DESC, site;
