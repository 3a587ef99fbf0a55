-- jsonb and json values as test_decoding prints them, and tables with a
-- UNIQUE constraint and secondary indexes: only the rows' changes are
-- decoded, never an index's.
CREATE TABLE docs (id int PRIMARY KEY, code text UNIQUE, body jsonb, raw json);
CREATE INDEX docs_raw_code ON docs (code, id);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO docs VALUES (1, 'a', '{"b": [1, 2.50], "a": "it''s"}', '{"k" : 1}'), (2, 'b', NULL, '[]');
UPDATE docs SET code = 'c', body = body || '{"z": null}' WHERE id = 1;
UPDATE docs SET id = 3 WHERE id = 2;
DELETE FROM docs WHERE code = 'c';
CREATE UNIQUE INDEX docs_body_key ON docs (code);
INSERT INTO docs VALUES (4, 'd', '[]', 'null');
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('s');
DROP TABLE docs;
