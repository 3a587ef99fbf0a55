-- REPLICA IDENTITY USING INDEX: the old values of the index's columns
-- identify a row, logged when they change (UPDATE) and for every DELETE.
CREATE TABLE rii (a int NOT NULL, b text NOT NULL, v text);
CREATE UNIQUE INDEX rii_ab ON rii (a, b);
ALTER TABLE rii REPLICA IDENTITY USING INDEX rii_ab;
CREATE TABLE rip (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text);
ALTER TABLE rip REPLICA IDENTITY USING INDEX rip_code_key;
SELECT relname, relreplident FROM pg_class WHERE relname IN ('rii', 'rip') ORDER BY 1;
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO rii VALUES (1, 'x', 'one'), (2, 'y', 'two');
UPDATE rii SET v = 'one!' WHERE a = 1;
UPDATE rii SET b = 'z' WHERE a = 2;
DELETE FROM rii WHERE a = 1;
INSERT INTO rip VALUES (1, 'c1', 'v');
UPDATE rip SET id = 10 WHERE id = 1;
UPDATE rip SET code = 'c2' WHERE id = 10;
DELETE FROM rip;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL);
-- the index dropped: no identity left
DROP INDEX rii_ab;
DELETE FROM rii;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL);
SELECT pg_drop_replication_slot('s');
DROP TABLE rii, rip;
