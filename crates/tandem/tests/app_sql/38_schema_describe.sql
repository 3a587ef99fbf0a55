-- What psql and the catalogs show of the objects of a schema: \dt, \di,
-- \dv, \ds with a schema pattern, \d+ and \dt+ of a qualified table, \dn+,
-- information_schema.columns (views' columns too), table_constraints,
-- sequences; pg_indexes, pg_views, pg_sequences.
CREATE SCHEMA app;
CREATE TABLE app.items (id serial PRIMARY KEY, name text UNIQUE, qty int DEFAULT 0);
CREATE INDEX items_qty ON app.items (qty);
CREATE VIEW app.v AS SELECT id, name FROM app.items;
CREATE SEQUENCE app.s;
COMMENT ON TABLE app.items IS 'the items';
\dt app.*
\di app.*
\dv app.*
\ds app.*
\d+ app.items
\dn+ app
\dt+ app.items
SELECT table_schema, table_name, column_name, column_default FROM information_schema.columns WHERE table_schema = 'app' ORDER BY table_name, ordinal_position;
SELECT constraint_schema, constraint_name, table_schema, table_name, constraint_type FROM information_schema.table_constraints WHERE table_schema = 'app' AND constraint_type <> 'CHECK' ORDER BY constraint_name;
SELECT schemaname, tablename, indexname FROM pg_indexes WHERE schemaname = 'app' ORDER BY indexname;
SELECT schemaname, viewname FROM pg_views WHERE schemaname = 'app';
SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname = 'app' ORDER BY 2;
SELECT sequence_schema, sequence_name FROM information_schema.sequences WHERE sequence_schema = 'app' ORDER BY 2;
DROP SCHEMA app CASCADE;
