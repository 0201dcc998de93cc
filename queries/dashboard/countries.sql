-- requires: geo_country
-- Page views and visitors per country (ISO 3166-1 alpha-2, from the geo
-- enricher), bots left out.
SELECT coalesce(geo_country, '(unknown)') AS country,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY page_views DESC, country
LIMIT {{top}}
