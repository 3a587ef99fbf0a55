-- Slot creation variants and the deterministic columns of pg_replication_slots,
-- then the error cases: duplicate slot, unknown plugin, bad slot name, unknown
-- slot, physical slot, unknown or malformed options, a binary plugin, creating
-- a slot after writes in the same transaction.
SELECT slot_name, lsn IS NOT NULL AS has_lsn FROM pg_create_logical_replication_slot('s', 'test_decoding');
SELECT slot_name, plugin, slot_type, database, temporary, active, two_phase, failover, synced, wal_status, conflicting, invalidation_reason FROM pg_replication_slots;
SELECT 'init' FROM pg_create_logical_replication_slot('tmp', 'test_decoding', true);
SELECT 'init' FROM pg_create_logical_replication_slot('tp', 'test_decoding', false, true);
SELECT 'init' FROM pg_create_logical_replication_slot('fo', 'test_decoding', false, false, true);
SELECT slot_name, temporary, active, two_phase, failover FROM pg_replication_slots ORDER BY slot_name;
SELECT pg_drop_replication_slot('tmp');
SELECT pg_drop_replication_slot('tp');
SELECT pg_drop_replication_slot('fo');
-- a temporary slot lives until the session ends or an error is raised in it
SELECT 'init' FROM pg_create_logical_replication_slot('tmp2', 'test_decoding', true);
SELECT slot_name, temporary FROM pg_replication_slots WHERE temporary;
SELECT 1 / 0;
SELECT slot_name, temporary FROM pg_replication_slots WHERE temporary;
-- errors at creation
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
SELECT 'init' FROM pg_create_logical_replication_slot('x', 'nope');
SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'x';
SELECT 'init' FROM pg_create_logical_replication_slot('Bad-Name', 'test_decoding');
SELECT 'init' FROM pg_create_logical_replication_slot('', 'test_decoding');
BEGIN;
CREATE TABLE w (a int);
INSERT INTO w VALUES (1);
SELECT 'init' FROM pg_create_logical_replication_slot('w', 'test_decoding');
ROLLBACK;
-- errors when decoding
SELECT * FROM pg_logical_slot_get_changes('nope', NULL, NULL);
SELECT * FROM pg_logical_slot_peek_changes('nope', NULL, NULL);
SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL, 'foo', 'bar');
SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', 'maybe');
SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids');
SELECT slot_name FROM pg_create_physical_replication_slot('phys');
SELECT * FROM pg_logical_slot_get_changes('phys', NULL, NULL);
SELECT * FROM pg_logical_slot_peek_changes('phys', NULL, NULL);
SELECT slot_name, plugin, slot_type, database, temporary, active, two_phase, failover, synced, conflicting FROM pg_replication_slots ORDER BY slot_name;
SELECT pg_drop_replication_slot('phys');
SELECT 'init' FROM pg_create_logical_replication_slot('po', 'pgoutput');
SELECT * FROM pg_logical_slot_get_changes('po', NULL, NULL);
SELECT * FROM pg_logical_slot_get_changes('po', NULL, NULL, 'proto_version', '1', 'publication_names', 'nopub');
SELECT pg_drop_replication_slot('po');
SELECT pg_drop_replication_slot('nope');
-- the slot still works after all that
CREATE TABLE ok (a int);
INSERT INTO ok VALUES (1);
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT pg_drop_replication_slot('s');
SELECT count(*) FROM pg_replication_slots;
DROP TABLE ok;
