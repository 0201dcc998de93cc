-- Visitors and page views per device type, browser and OS (from the user
-- agent, by uap-core's rules), bots left out.
SELECT dimension, value, page_views, visitors
FROM (
  SELECT 'device_type' AS dimension, coalesce(device_type, '(unknown)') AS value,
         count(*) AS page_views, count(DISTINCT {{visitor}}) AS visitors
  FROM events
  WHERE dt BETWEEN {{from}} AND {{to}} AND {{sites}}
    AND type = 'page_view' AND NOT coalesce(is_bot, false)
  GROUP BY 2
  UNION ALL
  SELECT 'browser', coalesce(browser, '(unknown)'), count(*), count(DISTINCT {{visitor}})
  FROM events
  WHERE dt BETWEEN {{from}} AND {{to}} AND {{sites}}
    AND type = 'page_view' AND NOT coalesce(is_bot, false)
  GROUP BY 2
  UNION ALL
  SELECT 'os', coalesce(os, '(unknown)'), count(*), count(DISTINCT {{visitor}})
  FROM events
  WHERE dt BETWEEN {{from}} AND {{to}} AND {{sites}}
    AND type = 'page_view' AND NOT coalesce(is_bot, false)
  GROUP BY 2
) AS d
ORDER BY CASE dimension WHEN 'device_type' THEN 1 WHEN 'browser' THEN 2 ELSE 3 END,
         page_views DESC, value
