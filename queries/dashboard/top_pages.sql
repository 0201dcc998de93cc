-- Page views and visitors per page: the page's host and path, without the
-- query string or fragment (so UTM-tagged links count as their page).
SELECT concat(coalesce(domain, '(no host)'),
              coalesce(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)', 1), '')) AS page,
       count(*) AS page_views,
       count(DISTINCT {{visitor}}) AS visitors
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND type = 'page_view'
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY page_views DESC, page
LIMIT {{top}}
