-- INSERT ... ON CONFLICT decodes as what it did: an INSERT for a new row,
-- an UPDATE for DO UPDATE, nothing for DO NOTHING.
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'test_decoding');
CREATE TABLE upsert(k int PRIMARY KEY, v text);
INSERT INTO upsert VALUES (1, 'one');
INSERT INTO upsert VALUES (1, 'uno'), (2, 'two') ON CONFLICT (k) DO UPDATE SET v = excluded.v;
INSERT INTO upsert VALUES (1, 'ignored') ON CONFLICT DO NOTHING;
INSERT INTO upsert VALUES (2, 'dos') ON CONFLICT (k) DO UPDATE SET v = upsert.v || '/' || excluded.v WHERE upsert.k = 2;
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1');
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
DROP TABLE upsert;
