-- Page views per plan, a field the table has no column for. In Parquet
-- mode (OutputFormat=Parquet) the function moves such fields into `extra`,
-- a JSON object of the moved members exactly as sent, and
-- json_extract_scalar reads one. In JSON mode `extra` stays NULL (every
-- field is kept in the objects as sent); `make schema` gives the field a
-- column of its own.
SELECT json_extract_scalar(extra, '$.plan') AS plan, count(*) AS page_views
FROM events
WHERE dt BETWEEN '2026-11-20' AND '2026-11-26'
  AND site IN ('bbc.co.uk', 'example.com', 'example.com.au', 'www.gov.uk', 'alice.github.io', 'xn--mnchen-3ya.de', 'unknown')
  AND type = 'page_view'
  AND json_extract_scalar(extra, '$.plan') IS NOT NULL
GROUP BY 1
ORDER BY page_views DESC, plan;
