-- time without time zone: input, output, arithmetic, casts, fields, columns,
-- arrays, indexes and aggregates.
SELECT '12:34:56'::time, '12:34:56.789'::time, '24:00:00'::time, TIME '01:02', 'allballs'::time;
SELECT '2024-01-01 12:34:56+02'::time, '25:00'::time;
SELECT 'abc'::time;
SELECT '12:00'::time + interval '13 hours', '01:00'::time - interval '2 hours', '12:00'::time - '10:30'::time;
SELECT date '2024-01-01' + time '12:30', '12:00'::time < '13:00'::time, '12:00'::time::interval;
SELECT extract(hour from time '12:34:56.5'), extract(second from time '12:34:56.5'), extract(epoch from time '01:00'), date_part('minute', time '12:34');
SELECT extract(day from time '12:34');
SELECT '2024-01-01 12:34:56'::timestamp::time, interval '25 hours 3 minutes'::time;
CREATE TABLE tt (id int PRIMARY KEY, t time, ts time[]);
INSERT INTO tt VALUES (1, '08:00', '{09:00,10:30:00.5}'), (2, '23:59:59.999999', NULL), (3, NULL, '{}');
SELECT * FROM tt ORDER BY t;
SELECT pg_typeof(t), format_type(1083, -1), '12:00'::time::text FROM tt WHERE id = 1;
\d tt
CREATE INDEX tt_t ON tt (t);
SELECT id FROM tt WHERE t > '12:00';
SELECT min(t), max(t) FROM tt;
DROP TABLE tt;
SELECT localtime IS NOT NULL AS has_localtime, pg_typeof(localtime);
SELECT '09:30'::time BETWEEN '09:00' AND '10:00' AS between, '9:30' < '10:00'::time AS as_time;
SELECT to_json('12:34:56.5'::time), '{"a": "09:00"}'::jsonb ->> 'a';
