-- requires: consent_status
-- Consent per site, from the consent string the events carry (TCF or GPP):
-- events per consent_status and the share granted among events with one.
SELECT coalesce(site, '(none)') AS site,
       count(*) AS events,
       count_if(consent_status = 'granted') AS granted,
       count_if(consent_status = 'denied') AS denied,
       count_if(consent_status NOT IN ('granted', 'denied')) AS other,
       round(100 * CAST(count_if(consent_status = 'granted') AS DOUBLE) / count(*), 1) AS granted_pct
FROM events
WHERE dt BETWEEN {{from}} AND {{to}}
  AND {{sites}}
  AND consent_status IS NOT NULL
  AND NOT coalesce(is_bot, false)
GROUP BY 1
ORDER BY events DESC, site
LIMIT {{top}}
