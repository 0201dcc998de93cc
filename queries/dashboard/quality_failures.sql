-- requires: errors.errorcode, errors.errormessage
-- Records the function failed, per error code and reason, from the error
-- output (errors/processing-failed/, by the day they arrived). Locally
-- the reason is the function's own code (not_json, not_utf8, ...); in AWS
-- errorMessage is Firehose's text and the reason is in the function's log.
SELECT errorcode AS error_code,
       errormessage AS reason,
       count(*) AS records
FROM errors
WHERE dt BETWEEN {{from}} AND {{to}}
GROUP BY 1, 2
ORDER BY records DESC, reason
LIMIT {{top}}
