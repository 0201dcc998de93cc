-- Failed records per reason, from Firehose's error output
-- (errors/processing-failed/). In AWS errorMessage is Firehose's own text;
-- the function logs each record's reason code (see the README). Locally,
-- replay writes the reason code into errorMessage.
SELECT errorcode, errormessage AS reason, count(*) AS records
FROM errors
GROUP BY errorcode, errormessage
ORDER BY records DESC, reason;
