-- A failover logical slot consumed with test_decoding, as a failover-slot
-- setup uses it (the CREATE TABLE transaction decodes as an empty
-- BEGIN/COMMIT pair because skip-empty-xacts is off by default).
SELECT 'init' FROM pg_create_logical_replication_slot('logical_slot', 'test_decoding', false, false, true);
select slot_name, failover from pg_replication_slots where slot_name = 'logical_slot';
create table bdt(a int);
insert into bdt values (1);
SELECT * FROM pg_logical_slot_get_changes('logical_slot', NULL, NULL, 'include-xids', '0');
-- consumed: nothing more to decode
SELECT * FROM pg_logical_slot_get_changes('logical_slot', NULL, NULL, 'include-xids', '0');
select slot_name, slot_type, failover, synced, catalog_xmin is not null as has_catalog_xmin, xmin is null as no_xmin, restart_lsn <= confirmed_flush_lsn as ordered from pg_replication_slots where slot_name = 'logical_slot';
SELECT pg_drop_replication_slot('logical_slot');
drop table bdt;
