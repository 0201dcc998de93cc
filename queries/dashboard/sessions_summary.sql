-- Sessions per day (by the day each starts), bounce rate (sessions of one
-- page view), median duration and page views per session, from
-- sessions.sql; the row with no day is the whole range.
WITH sessions AS (
{{sessions}}
)
SELECT day,
       count(*) AS sessions,
       round(100 * CAST(count_if(bounce) AS DOUBLE) / count(*), 1) AS bounce_pct,
       approx_percentile(duration_s, 0.5) AS median_duration_s,
       round(CAST(sum(page_views) AS DOUBLE) / count(*), 2) AS pages_per_session,
       sum(page_views) AS page_views,
       count_if(bounce) AS bounces,
       sum(duration_s) AS duration_s
FROM sessions
GROUP BY GROUPING SETS ((day), ())
ORDER BY day NULLS LAST
