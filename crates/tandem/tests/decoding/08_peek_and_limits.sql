-- peek_changes does not consume, get_changes does; upto_nchanges stops after
-- the transaction (or message) whose output reaches the limit; upto_lsn stops
-- after the record that reaches the given LSN.
CREATE TABLE pl (a int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO pl VALUES (1);
BEGIN;
INSERT INTO pl VALUES (2);
INSERT INTO pl VALUES (3);
COMMIT;
INSERT INTO pl VALUES (4);
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, 1, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 1, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 4, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, 0, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- a limit in the middle of a transaction still returns the whole transaction
BEGIN;
INSERT INTO pl VALUES (5);
INSERT INTO pl VALUES (6);
INSERT INTO pl VALUES (7);
COMMIT;
INSERT INTO pl VALUES (8);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 2, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- without skip-empty-xacts the DDL transaction's BEGIN/COMMIT count too
CREATE TABLE pl2 (b int);
INSERT INTO pl2 VALUES (1);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 1, 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0');
-- upto_lsn
INSERT INTO pl VALUES (9);
SELECT pg_current_wal_lsn() AS upto \gset
INSERT INTO pl VALUES (10);
SELECT data FROM pg_logical_slot_peek_changes('s', :'upto', NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', :'upto', NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', :'upto', NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- both limits: whichever comes first
INSERT INTO pl VALUES (11);
INSERT INTO pl VALUES (12);
SELECT pg_current_wal_lsn() AS upto2 \gset
INSERT INTO pl VALUES (13);
SELECT data FROM pg_logical_slot_get_changes('s', :'upto2', 1, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', :'upto2', 100, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- a negative limit is not an error: it stops after the first WAL record read,
-- before any transaction is complete
INSERT INTO pl VALUES (14);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, -1, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT pg_drop_replication_slot('s');
DROP TABLE pl, pl2;
