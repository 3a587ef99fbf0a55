-- DDL between changes: each change is decoded with the table definition in
-- force when it was made (columns added or dropped later do not show), a table
-- created and filled in one transaction, a table dropped before decoding, and
-- DDL-only transactions (empty BEGIN/COMMIT unless skip-empty-xacts).
CREATE TABLE ddl (a int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO ddl VALUES (1);
ALTER TABLE ddl ADD COLUMN b text;
INSERT INTO ddl VALUES (2, 'two');
ALTER TABLE ddl ADD COLUMN c int DEFAULT 42;
INSERT INTO ddl (a) VALUES (3);
UPDATE ddl SET b = 'one' WHERE a = 1;
ALTER TABLE ddl DROP COLUMN b;
INSERT INTO ddl VALUES (4, 44);
UPDATE ddl SET c = 0 WHERE a = 2;
ALTER TABLE ddl RENAME COLUMN a TO aa;
INSERT INTO ddl VALUES (5, 55);
ALTER TABLE ddl RENAME TO ddl_renamed;
INSERT INTO ddl_renamed VALUES (6, 66);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- created and filled in one transaction, altered in the middle
BEGIN;
CREATE TABLE ddl2 (x int PRIMARY KEY, y text);
INSERT INTO ddl2 VALUES (1, 'one');
ALTER TABLE ddl2 ADD COLUMN z bool;
INSERT INTO ddl2 VALUES (2, 'two', true);
UPDATE ddl2 SET z = false WHERE x = 1;
COMMIT;
-- changes to a table that is dropped before they are decoded
CREATE TABLE gone (g int);
INSERT INTO gone VALUES (7);
DROP TABLE gone;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- DDL-only transactions without and with skip-empty-xacts
CREATE TABLE ddl3 (q int);
DROP TABLE ddl3;
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1');
SELECT * FROM ddl_renamed ORDER BY aa;
SELECT pg_drop_replication_slot('s');
DROP TABLE ddl_renamed, ddl2;
