-- Athena only (run once; replace BUCKET): a table over the error output, so
-- that 4_failed_records_per_reason.sql runs there too. Locally,
-- tools/athena_local.py defines the same `errors` view itself.
CREATE EXTERNAL TABLE IF NOT EXISTS errors (
  attemptsmade int,
  arrivaltimestamp bigint,
  errorcode string,
  errormessage string,
  attemptendingtimestamp bigint,
  rawdata string,
  lambdaarn string
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
LOCATION 's3://BUCKET/errors/processing-failed/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = 'NOW-1YEARS,NOW+1DAYS',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://BUCKET/errors/processing-failed/dt=${dt}/'
);
