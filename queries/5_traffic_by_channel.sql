-- Page views and visitors per marketing channel and site, over a week.
-- channel is GA4's default channel group (plus Internal and AI Assistant),
-- computed at ingest from the referrer and the page URL's UTM parameters;
-- it is NULL only when ENRICHMENTS leaves out campaign.
SELECT site,
       coalesce(channel, '(not computed)') AS channel,
       count(*) AS page_views,
       count(DISTINCT anonymous_id) AS visitors
FROM events
WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
  AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
  AND type = 'page_view'
GROUP BY site, coalesce(channel, '(not computed)')
ORDER BY site, page_views DESC, channel;
