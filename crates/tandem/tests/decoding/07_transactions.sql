-- Transactions: several changes in one transaction, rolled back and failed
-- transactions (never decoded), transactions without changes, and the
-- include-xids / include-timestamp / skip-empty-xacts options.
CREATE TABLE tx (id int PRIMARY KEY, v text);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
BEGIN;
INSERT INTO tx VALUES (1, 'a');
INSERT INTO tx VALUES (2, 'b');
UPDATE tx SET v = 'bb' WHERE id = 2;
DELETE FROM tx WHERE id = 1;
COMMIT;
BEGIN;
INSERT INTO tx VALUES (10, 'rolled back');
ROLLBACK;
INSERT INTO tx VALUES (3, 'c');
BEGIN;
COMMIT;
BEGIN;
SELECT count(*) FROM tx;
COMMIT;
BEGIN;
INSERT INTO tx VALUES (20, 'failed');
SELECT 1 / 0;
INSERT INTO tx VALUES (21, 'ignored');
COMMIT;
INSERT INTO tx VALUES (3, 'duplicate');
-- default options: include-xids on, so BEGIN and COMMIT carry the xid
SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL);
BEGIN;
INSERT INTO tx VALUES (4, 'd');
INSERT INTO tx VALUES (5, 'e');
COMMIT;
INSERT INTO tx VALUES (6, 'f');
SELECT lsn, xid, data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '1');
SELECT lsn, xid, data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '0');
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '1', 'include-timestamp', '1');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0', 'include-timestamp', '0', 'skip-empty-xacts', '0');
SELECT count(*) FROM pg_logical_slot_get_changes('s', NULL, NULL);
-- a transaction that only does DDL, and one that changes rows
CREATE TABLE tx_other (a int);
INSERT INTO tx_other VALUES (1);
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '0');
SELECT data FROM pg_logical_slot_peek_changes('s', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', 'off', 'skip-empty-xacts', 'on');
SELECT * FROM tx ORDER BY id;
SELECT pg_drop_replication_slot('s');
DROP TABLE tx, tx_other;
