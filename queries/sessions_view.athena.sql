-- Athena: the sessions of the last 30 days (UTC, today included), one
-- row each, as queries/dashboard/sessions.sql defines them. Written by
-- `tools/dashboard.py --sessions-view --sites …`; rerun it for your table.
-- Reading it scans 32 days of partitions, whatever the WHERE on the view.
CREATE OR REPLACE VIEW sessions AS
WITH page_views AS (
  SELECT site,
         anonymous_id AS visitor,
         event_time,
         url,
         channel,
         coalesce(referrer_source, referrer_site, referrer_domain) AS referrer,
         device_type,
         geo_country AS country,
         event_fingerprint
  FROM events
  WHERE dt BETWEEN CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR) AND CAST(CAST(current_date + INTERVAL '1' DAY AS DATE) AS VARCHAR)
    AND site IN ('alice.github.io', 'bbc.co.uk', 'example.com', 'example.com.au', 'unknown', 'www.gov.uk', 'xn--mnchen-3ya.de')
    AND type = 'page_view'
    AND NOT coalesce(is_bot, false)
    AND anonymous_id IS NOT NULL
    AND event_time IS NOT NULL
),
marked AS (
  SELECT *,
         coalesce(event_time > lag(event_time) OVER (PARTITION BY site, visitor
                                                     ORDER BY event_time, event_fingerprint)
                               + INTERVAL '30' MINUTE,
                  true) AS starts_session
  FROM page_views
),
numbered AS (
  SELECT *,
         sum(CASE WHEN starts_session THEN 1 ELSE 0 END) OVER (PARTITION BY site, visitor ORDER BY event_time, event_fingerprint
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_number
  FROM marked
),
sessions AS (
  SELECT site,
         visitor,
         session_number,
         min(event_time) AS session_start,
         max(event_time) AS session_end,
         count(*) AS page_views,
         min_by(url, event_time) AS entry_page,
         min_by(channel, event_time) AS entry_channel,
         min_by(referrer, event_time) AS entry_referrer,
         min_by(device_type, event_time) AS device_type,
         min_by(country, event_time) AS country
  FROM numbered
  GROUP BY site, visitor, session_number
)
SELECT CAST(CAST(session_start AS DATE) AS VARCHAR) AS day,
       site,
       visitor,
       session_start,
       session_end,
       page_views,
       date_diff('second', session_start, session_end) AS duration_s,
       page_views = 1 AS bounce,
       entry_page,
       entry_channel,
       entry_referrer,
       device_type,
       country
FROM sessions
WHERE CAST(CAST(session_start AS DATE) AS VARCHAR) BETWEEN CAST(CAST(current_date - INTERVAL '29' DAY AS DATE) AS VARCHAR) AND CAST(CAST(current_date + INTERVAL '0' DAY AS DATE) AS VARCHAR)
