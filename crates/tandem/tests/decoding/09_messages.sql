-- pg_logical_emit_message: transactional messages are decoded inside their
-- transaction (and vanish with a rollback), non-transactional ones at once,
-- outside any transaction, even when their transaction aborts (xid 0 when the
-- session has no xid). Non-transactional messages are not flushed unless the
-- fourth argument says so or a later commit flushes them: decoding reads only
-- flushed WAL, so every one here is flushed one way or the other.
CREATE TABLE msg (a int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
SELECT 'm1' FROM pg_logical_emit_message(true, 'test', 'transactional message');
SELECT 'm2' FROM pg_logical_emit_message(false, 'test', 'non-transactional message', true);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0');
BEGIN;
INSERT INTO msg VALUES (1);
SELECT 'm3' FROM pg_logical_emit_message(true, 'p', 'in a transaction');
SELECT 'm4' FROM pg_logical_emit_message(false, 'p', 'non-transactional in a transaction');
INSERT INTO msg VALUES (2);
COMMIT;
BEGIN;
SELECT 'm5' FROM pg_logical_emit_message(true, 'p', 'rolled back');
SELECT 'm6' FROM pg_logical_emit_message(false, 'p', 'survives the rollback', true);
ROLLBACK;
SELECT lsn, xid, data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '1');
-- empty prefix and content, bytea content, the flush argument
SELECT 'm7' FROM pg_logical_emit_message(false, '', '');
SELECT 'm8' FROM pg_logical_emit_message(true, 'bin', 'abc'::bytea);
SELECT 'm9' FROM pg_logical_emit_message(false, 'flushed', 'content', true);
SELECT 'm10' FROM pg_logical_emit_message(true, 'quote''s', 'it''s', false);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1');
-- the function returns the message's LSN
SELECT pg_logical_emit_message(false, 'p', 'lsn', true) AS lsn;
SELECT pg_logical_emit_message(true, 'p', 'lsn') > '0/0' AS after_start;
-- messages count towards upto_nchanges, one row each
SELECT 'm11' FROM pg_logical_emit_message(false, 'p', 'first', true);
SELECT 'm12' FROM pg_logical_emit_message(false, 'p', 'second', true);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 1, 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, 1, 'include-xids', '0');
SELECT lsn, xid, data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('s');
DROP TABLE msg;
