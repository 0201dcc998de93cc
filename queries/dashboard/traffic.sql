-- Events, page views and visitors per day, or per hour when the range is
-- three days or less ({{bucket}} is 'day' or 'hour'), in UTC. Bots left out.
SELECT date_trunc({{bucket}}, event_time) AS period,
       count(*) AS events,
       count_if(type = 'page_view') AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY 1
