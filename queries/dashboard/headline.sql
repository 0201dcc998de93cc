-- Headline figures: events, page views and visitors over the range, bots
-- left out (see bots.sql), and the share of events from bots.
SELECT count_if(NOT coalesce(is_bot, false)) AS events,
       count_if(NOT coalesce(is_bot, false) AND type = 'page_view') AS page_views,
       count(DISTINCT CASE WHEN NOT coalesce(is_bot, false) THEN {{visitor}} END) AS visitors,
       count_if(coalesce(is_bot, false)) AS bot_events
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
