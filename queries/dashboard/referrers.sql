-- Top referrers: the referring source's name where it is known (Google,
-- ChatGPT), its site otherwise; the page's own site (internal) left out.
SELECT coalesce(referrer_source, referrer_site, referrer_domain) AS referrer,
       min(referrer_medium) AS medium,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
  AND coalesce(referrer_source, referrer_site, referrer_domain) IS NOT NULL
  AND coalesce(referrer_medium, '') <> 'internal'
GROUP BY 1
ORDER BY page_views DESC, referrer
LIMIT {{top}}
