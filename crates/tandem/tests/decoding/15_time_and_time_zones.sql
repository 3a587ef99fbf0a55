-- time columns, and timestamptz printed in the decoding session's time zone
-- (test_decoding runs the types' output functions in that session).
CREATE TABLE tmz (id int PRIMARY KEY, t time, ta time[], tz timestamptz);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO tmz VALUES (1, '08:30', '{09:00,23:59:59.5}', '2024-07-01 12:00+00');
INSERT INTO tmz VALUES (2, '24:00:00', NULL, '2024-01-01 00:00:00.25+00');
UPDATE tmz SET t = t + interval '90 minutes' WHERE id = 1;
DELETE FROM tmz WHERE id = 2;
SET TimeZone = 'America/New_York';
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL);
SET TimeZone = 'Asia/Kolkata';
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL);
RESET TimeZone;
SELECT pg_drop_replication_slot('s');
DROP TABLE tmz;
