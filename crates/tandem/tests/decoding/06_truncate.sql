-- TRUNCATE: one table, several tables in one statement (one change naming all
-- of them), RESTART IDENTITY and CASCADE flags, and TRUNCATE between inserts
-- inside a transaction.
CREATE TABLE tr1 (id serial PRIMARY KEY, v text);
CREATE TABLE tr2 (a int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO tr1 (v) VALUES ('a'), ('b');
INSERT INTO tr2 VALUES (1);
TRUNCATE tr1;
TRUNCATE tr1, tr2;
TRUNCATE TABLE tr1 RESTART IDENTITY;
TRUNCATE tr2 CASCADE;
TRUNCATE tr2, tr1 RESTART IDENTITY CASCADE;
TRUNCATE tr1 CONTINUE IDENTITY RESTRICT;
BEGIN;
INSERT INTO tr2 VALUES (2);
TRUNCATE tr2;
INSERT INTO tr2 VALUES (3);
COMMIT;
BEGIN;
INSERT INTO tr2 VALUES (4);
TRUNCATE tr2;
ROLLBACK;
INSERT INTO tr1 (v) VALUES ('c');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT * FROM tr1;
SELECT * FROM tr2;
SELECT pg_drop_replication_slot('s');
DROP TABLE tr1, tr2;
