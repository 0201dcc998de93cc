-- One row per session: a visitor's page views on one site, split where
-- more than 30 minutes pass between two of them. The visitor is
-- {{visitor}} (anonymous_id unless configured); page views without one
-- belong to no session. Bots are left out.
--
-- A session belongs to the day (UTC) it starts on. The scan reaches one day
-- past each end of the range, so that a session running over midnight,
-- and so over two dt partitions, is whole: one that started the evening
-- before the range is seen starting there and left out; one that starts on
-- the last day keeps its page views after midnight.
WITH page_views AS (
  SELECT site,
         {{visitor}} AS visitor,
         event_time,
         url,
         channel,
         coalesce(referrer_source, referrer_site, referrer_domain) AS referrer,
         device_type,
         {{optional:geo_country}} AS country,
         event_fingerprint
  FROM events
  WHERE dt BETWEEN {{from_before}} AND {{to_after}}
    AND {{sites}}
    AND type = 'page_view'
    AND NOT coalesce(is_bot, false)
    AND {{visitor}} IS NOT NULL
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
WHERE CAST(CAST(session_start AS DATE) AS VARCHAR) BETWEEN {{from}} AND {{to}}
