-- ALTER TABLE ... ALTER [COLUMN] c [SET DATA] TYPE t where the stored values
-- stay as they are (a longer or unbounded varchar, text, numeric with more
-- digits): the catalog, psql's \d, DEFAULTs, indexes, inserts that use the
-- room, logical decoding of rows after the change, and PostgreSQL's errors.
CREATE TABLE act (id int PRIMARY KEY, name varchar(20) DEFAULT 'x', amount numeric(10,2), note text, code varchar(5) UNIQUE);
INSERT INTO act VALUES (1, 'abc', 1.50, 'n', 'c1');
CREATE VIEW actv AS SELECT id, code FROM act;
SELECT 'init' FROM pg_create_logical_replication_slot('act_slot', 'test_decoding');
ALTER TABLE act ALTER COLUMN name TYPE varchar(50);
INSERT INTO act (id, name) VALUES (2, repeat('y', 40));
ALTER TABLE act ALTER name SET DATA TYPE text;
ALTER TABLE act ALTER COLUMN amount TYPE numeric(12,2);
ALTER TABLE act ALTER COLUMN amount TYPE numeric;
INSERT INTO act (id, amount) VALUES (3, 123456789012.125);
ALTER TABLE act ALTER COLUMN note TYPE varchar;
ALTER TABLE act ALTER COLUMN note TYPE text USING note;
ALTER TABLE act ALTER COLUMN code TYPE varchar(10);
ALTER TABLE act ALTER COLUMN id TYPE bigint;
ALTER TABLE act ALTER COLUMN nosuch TYPE text;
ALTER TABLE act ALTER COLUMN name TYPE nosuchtype;
\d act
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'act'::regclass;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'act'::regclass AND attnum > 0 ORDER BY attnum;
SELECT column_name, data_type, character_maximum_length, numeric_precision FROM information_schema.columns WHERE table_name = 'act' ORDER BY ordinal_position;
SELECT * FROM act ORDER BY id;
UPDATE act SET note = 'changed' WHERE id = 1;
SELECT data FROM pg_logical_slot_get_changes('act_slot', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('act_slot');
DROP VIEW actv;
DROP TABLE act;
