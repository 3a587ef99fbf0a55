-- Changes undone by ROLLBACK TO SAVEPOINT are never decoded; those kept
-- (released or not) come out in the transaction, in the order they were made.
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'test_decoding');
CREATE TABLE sp_dec(id int PRIMARY KEY, v text);
BEGIN;
INSERT INTO sp_dec VALUES (1, 'kept');
SAVEPOINT a;
INSERT INTO sp_dec VALUES (2, 'undone');
UPDATE sp_dec SET v = 'undone too' WHERE id = 1;
ROLLBACK TO SAVEPOINT a;
INSERT INTO sp_dec VALUES (3, 'after rollback to');
SAVEPOINT b;
UPDATE sp_dec SET v = 'released' WHERE id = 3;
RELEASE SAVEPOINT b;
SAVEPOINT c;
DELETE FROM sp_dec WHERE id = 1;
COMMIT;
BEGIN;
SAVEPOINT d;
INSERT INTO sp_dec VALUES (4, 'failed');
SELECT 1/0;
ROLLBACK TO d;
INSERT INTO sp_dec VALUES (5, 'after the error');
COMMIT;
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1');
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
DROP TABLE sp_dec;
