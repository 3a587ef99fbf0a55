-- pg_replication_slot_advance (forward, to the same place, backwards, to an
-- invalid or future LSN) and pg_copy_logical_replication_slot (the copy starts
-- where the source is, then both slots decode independently).
CREATE TABLE ac (a int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding', false, false, true);
INSERT INTO ac VALUES (1);
SELECT slot_name FROM pg_replication_slot_advance('s', pg_current_wal_lsn());
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
INSERT INTO ac VALUES (2);
SELECT * FROM pg_replication_slot_advance('s', pg_current_wal_lsn());
SELECT confirmed_flush_lsn AS advanced FROM pg_replication_slots WHERE slot_name = 's' \gset
-- advancing to where the slot already is changes nothing
SELECT slot_name, end_lsn = :'advanced' AS same FROM pg_replication_slot_advance('s', :'advanced');
-- backwards
SELECT * FROM pg_replication_slot_advance('s', '0/1');
SELECT confirmed_flush_lsn = :'advanced' AS unchanged FROM pg_replication_slots WHERE slot_name = 's';
-- invalid and future targets
SELECT * FROM pg_replication_slot_advance('s', '0/0');
INSERT INTO ac VALUES (3);
SELECT slot_name, end_lsn <= pg_current_wal_lsn() AS capped FROM pg_replication_slot_advance('s', 'FFFFFFFF/FFFFFFFF');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT * FROM pg_replication_slot_advance('nope', pg_current_wal_lsn());
-- copy
INSERT INTO ac VALUES (4);
SELECT slot_name FROM pg_copy_logical_replication_slot('s', 's_copy');
SELECT slot_name, lsn IS NULL AS no_lsn FROM pg_copy_logical_replication_slot('s', 's_tmp', true);
SELECT slot_name FROM pg_copy_logical_replication_slot('s', 's_td', false, 'test_decoding');
SELECT slot_name, plugin, slot_type, temporary, active, two_phase, failover, synced FROM pg_replication_slots ORDER BY slot_name;
SELECT count(DISTINCT confirmed_flush_lsn) AS flush_points, count(DISTINCT restart_lsn) AS restart_points FROM pg_replication_slots;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s_copy', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
INSERT INTO ac VALUES (5);
SELECT data FROM pg_logical_slot_get_changes('s_copy', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s_tmp', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT data FROM pg_logical_slot_get_changes('s_td', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT pg_drop_replication_slot('s_tmp');
-- copy errors
SELECT * FROM pg_copy_logical_replication_slot('nope', 'x');
SELECT * FROM pg_copy_logical_replication_slot('s', 's_copy');
SELECT * FROM pg_copy_physical_replication_slot('s', 'p_copy');
SELECT * FROM pg_copy_logical_replication_slot('s', 'x', false, 'nope');
SELECT slot_name FROM pg_create_physical_replication_slot('phys', true);
SELECT * FROM pg_copy_logical_replication_slot('phys', 'x');
SELECT slot_name FROM pg_replication_slots ORDER BY slot_name;
SELECT pg_drop_replication_slot('phys');
SELECT pg_drop_replication_slot('s_td');
SELECT pg_drop_replication_slot('s_copy');
SELECT pg_drop_replication_slot('s');
DROP TABLE ac;
