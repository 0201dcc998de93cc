-- requires: bot_category
-- Events from bots per category (search, ai_crawler, ai_agent, seo,
-- monitoring, social_preview, feed, http_client, other), with each
-- category's share of all events.
SELECT coalesce(bot_category, 'other') AS category,
       count(*) AS events,
       round(100 * CAST(count(*) AS DOUBLE) / max(total), 2) AS share_pct
FROM (
  SELECT bot_category, is_bot, count(*) OVER () AS total
  FROM events
  WHERE dt BETWEEN {{from}} AND {{to}}
    AND {{sites}}
) AS e
WHERE coalesce(is_bot, false)
GROUP BY 1
ORDER BY events DESC, category
