-- Page views and visitors per UTM campaign, source and medium, for page
-- views that carry a utm_campaign.
SELECT utm_campaign AS campaign,
       coalesce(utm_source, '(none)') AS source,
       coalesce(utm_medium, '(none)') AS medium,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
  AND utm_campaign IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY page_views DESC, campaign, source, medium
LIMIT {{top}}
