-- UPDATE / DELETE output by replica identity: a table without a primary key
-- (nothing to identify the old row), REPLICA IDENTITY FULL (the whole old row),
-- REPLICA IDENTITY NOTHING, and back to DEFAULT on a keyed table.
CREATE TABLE nokey (a int, b text);
CREATE TABLE full_ri (a int, b text, c int);
ALTER TABLE full_ri REPLICA IDENTITY FULL;
CREATE TABLE nothing_ri (a int PRIMARY KEY, b text);
ALTER TABLE nothing_ri REPLICA IDENTITY NOTHING;
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO nokey VALUES (1, 'a'), (2, NULL);
UPDATE nokey SET b = 'b' WHERE a = 1;
UPDATE nokey SET a = 3 WHERE a = 2;
DELETE FROM nokey WHERE a = 1;
INSERT INTO full_ri VALUES (1, 'a', NULL), (2, 'it''s', 2);
UPDATE full_ri SET b = 'changed' WHERE a = 1;
UPDATE full_ri SET a = 20, c = NULL WHERE a = 2;
DELETE FROM full_ri WHERE a = 1;
INSERT INTO nothing_ri VALUES (1, 'x');
UPDATE nothing_ri SET b = 'y';
UPDATE nothing_ri SET a = 2;
DELETE FROM nothing_ri;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- switching identities between changes: the setting in force at each change counts
INSERT INTO nothing_ri VALUES (5, 'five');
ALTER TABLE nothing_ri REPLICA IDENTITY FULL;
UPDATE nothing_ri SET b = 'FIVE';
ALTER TABLE nothing_ri REPLICA IDENTITY DEFAULT;
UPDATE nothing_ri SET a = 6;
DELETE FROM nothing_ri;
ALTER TABLE nokey REPLICA IDENTITY FULL;
DELETE FROM nokey;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT relname, relreplident FROM pg_class WHERE relname IN ('nokey', 'full_ri', 'nothing_ri') ORDER BY relname;
SELECT pg_drop_replication_slot('s');
DROP TABLE nokey, full_ri, nothing_ri;
