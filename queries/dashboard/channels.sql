-- Page views and visitors per channel: GA4's default channel group plus
-- Internal and AI Assistant, computed at ingest (NULL only when ENRICHMENTS
-- leaves out campaign).
SELECT coalesce(channel, '(not computed)') AS channel,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY page_views DESC, channel
