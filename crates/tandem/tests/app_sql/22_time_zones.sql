-- SET TimeZone shapes timestamptz text in and out, and every operation
-- that works in local time.
SET TimeZone = 'America/New_York';
SHOW TimeZone;
SELECT '2024-01-01 12:00+00'::timestamptz AS winter, '2024-07-01 12:00+00'::timestamptz AS summer;
SELECT '2024-01-01 12:00'::timestamptz AS local_input;
-- a skipped local time takes the offset before, a repeated one the offset after
SELECT '2024-03-10 02:30'::timestamptz AS gap, '2024-11-03 01:30'::timestamptz AS fold;
-- casts between timestamp, timestamptz and date
SELECT '2024-01-01 12:00'::timestamp::timestamptz AS to_tz,
       '2024-01-01 12:00+00'::timestamptz::timestamp AS to_local,
       '2024-01-01 03:00+00'::timestamptz::date AS local_date,
       '2024-01-01'::date::timestamptz AS local_midnight;
SELECT '2024-01-01 12:00'::timestamp = '2024-01-01 12:00'::timestamptz AS eq,
       '2024-01-01'::date < '2024-01-01 03:00'::timestamptz AS date_before;
-- fields and truncation in local time; epoch is the instant
SELECT date_trunc('day', '2024-01-01 03:00+00'::timestamptz) AS day,
       date_trunc('month', '2024-03-01 02:00+00'::timestamptz) AS month,
       date_trunc('week', '2024-03-11 02:00+00'::timestamptz) AS week;
SELECT extract(hour from '2024-01-01 03:00+00'::timestamptz) AS hour,
       extract(epoch from '2024-01-01 03:00+00'::timestamptz) AS epoch,
       extract(timezone from '2024-07-01 12:00+00'::timestamptz) AS tz,
       extract(timezone_hour from '2024-07-01 12:00+00'::timestamptz) AS tz_hour;
SELECT to_char('2024-07-01 12:00+00'::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ OF tz') AS to_char;
-- a day is a calendar day across a DST change; 24 hours are 24 hours
SELECT '2024-03-09 12:00'::timestamptz + interval '1 day' AS plus_day,
       '2024-03-09 12:00'::timestamptz + interval '24 hours' AS plus_24h,
       '2024-03-11 12:00'::timestamptz - interval '1 month' AS minus_month;
SELECT generate_series('2024-03-09 12:00'::timestamptz, '2024-03-11 12:00'::timestamptz, '1 day');
SELECT age('2024-03-11 00:00'::timestamptz, '2024-03-10 00:00'::timestamptz) AS age,
       '2024-03-11 00:00'::timestamptz - '2024-03-10 00:00'::timestamptz AS diff;
-- AT TIME ZONE
SELECT '2024-01-01 12:00+00'::timestamptz AT TIME ZONE 'Asia/Kolkata' AS in_kolkata,
       '2024-01-01 12:00'::timestamp AT TIME ZONE 'Asia/Kolkata' AS from_kolkata,
       '2024-01-01 12:00+00'::timestamptz AT TIME ZONE 'UTC' AS in_utc;
SELECT '2024-01-01 12:00+00'::timestamptz AT TIME ZONE 'Nowhere/Land';
SELECT to_json('2024-01-01 12:00:00.25+00'::timestamptz) AS json;
-- other zones and forms
SET TimeZone = 'Asia/Kolkata';
SELECT '2024-01-01 12:00+00'::timestamptz;
SET TimeZone = 'europe/paris';
SHOW TimeZone;
SELECT '1900-01-01 12:00+00'::timestamptz AS local_mean_time;
SET TimeZone = 'Foo/Bar';
SET TIME ZONE -5;
SHOW TimeZone;
SELECT '2024-01-01 12:00+00'::timestamptz;
SET TIME ZONE '+05:30';
SHOW TimeZone;
SELECT '2024-01-01 12:00+00'::timestamptz;
SET TIME ZONE 'EST5EDT';
SELECT '2024-07-01 12:00+00'::timestamptz;
SET TimeZone = 'Australia/Lord_Howe';
SELECT '2024-01-01 12:00+00'::timestamptz;
SET TimeZone = 'America/St_Johns';
SELECT '2024-01-01 12:00+00'::timestamptz, '1800-01-01 12:00+00'::timestamptz;
-- SET LOCAL ends with the transaction
BEGIN;
SET LOCAL TimeZone = 'Asia/Tokyo';
SELECT '2024-01-01 12:00+00'::timestamptz AS in_tokyo;
COMMIT;
SELECT '2024-01-01 12:00+00'::timestamptz AS back_in_st_johns;
SET TIME ZONE 'UTC';
SELECT '2024-01-01 12:00 America/New_York'::timestamptz AS named_in_input,
       '2024-01-01 12:00 EST'::timestamptz AS abbreviation_in_input;
-- values stored are instants: the zone changes only their text
CREATE TABLE tzt (id int PRIMARY KEY, at timestamptz);
INSERT INTO tzt VALUES (1, '2024-06-01 09:00+02');
SET TimeZone = 'America/Los_Angeles';
INSERT INTO tzt VALUES (2, '2024-06-01 00:00');
SELECT id, at, at = '2024-06-01 07:00+00' AS same_instant FROM tzt ORDER BY id;
RESET TimeZone;
SELECT id, at FROM tzt ORDER BY id;
DROP TABLE tzt;
