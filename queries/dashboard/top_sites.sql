-- Page views and visitors per site (the registrable domain), bots left out.
SELECT coalesce(site, '(none)') AS site,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY page_views DESC, site
LIMIT {{top}}
