-- Schemas: CREATE SCHEMA [IF NOT EXISTS] [AUTHORIZATION], tables, views,
-- sequences and indexes in a schema, schema-qualified names in queries and
-- DML, search_path (lookups, creation, current_schema[s], regclass output),
-- the catalogs (pg_namespace, pg_class, pg_tables, information_schema),
-- COMMENT ON SCHEMA, psql's \dn, \dt and \d, DROP SCHEMA [CASCADE], and
-- logical decoding of a table outside public.
CREATE SCHEMA app;
CREATE SCHEMA app;
CREATE SCHEMA IF NOT EXISTS app;
CREATE SCHEMA pg_foo;
CREATE SCHEMA public;
CREATE TABLE app.items (id serial PRIMARY KEY, name text UNIQUE, qty int DEFAULT 0);
CREATE TABLE items (id int PRIMARY KEY, note text);
INSERT INTO app.items (name, qty) VALUES ('bolt', 3), ('nut', 5);
INSERT INTO items VALUES (1, 'public one');
SELECT * FROM app.items ORDER BY id;
SELECT * FROM items;
SELECT * FROM nosuch.items;
CREATE TABLE nosuch.t (a int);
DROP TABLE nosuch.t;
DROP TABLE IF EXISTS nosuch.t;
DROP TABLE IF EXISTS app.nosuch;
UPDATE app.items SET qty = qty + 1 WHERE name = 'nut';
DELETE FROM app.items WHERE name = 'bolt';
SELECT i.name, i.qty, p.note FROM app.items i JOIN items p ON p.id = 1;
SET search_path = app, public;
SHOW search_path;
SELECT * FROM items ORDER BY id;
SELECT current_schema(), current_schemas(false), current_schemas(true);
SELECT current_schema;
CREATE TABLE extra (a int);
CREATE INDEX extra_a ON extra (a);
CREATE VIEW big_items AS SELECT name FROM items WHERE qty > 1;
CREATE SEQUENCE counter;
SELECT nextval('counter'), nextval('app.counter');
SELECT 'extra'::regclass, 'app.extra'::regclass, 'public.items'::regclass;
RESET search_path;
\d items
\dt
SET search_path = app, public;
\dt
SELECT c.relname, pg_table_is_visible(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'items' ORDER BY n.nspname;
RESET search_path;
SELECT 'app.extra'::regclass;
SELECT * FROM app.big_items;
SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' ORDER BY 2;
SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'app' ORDER BY 2;
SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'app' ORDER BY 2;
SELECT schema_name FROM information_schema.schemata ORDER BY 1;
SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_temp|^pg_toast_temp' ORDER BY 1;
SET search_path = nosuch;
SELECT current_schema(), current_schemas(false);
CREATE TABLE z (a int);
RESET search_path;
COMMENT ON SCHEMA app IS 'application tables';
SELECT obj_description('app'::regnamespace, 'pg_namespace');
SELECT has_schema_privilege('app', 'USAGE'), has_schema_privilege('app', 'CREATE');
\dn
\dt app.*
\d app.items
DROP SCHEMA app;
DROP SCHEMA nosuch;
DROP SCHEMA IF EXISTS nosuch;
DROP SCHEMA app CASCADE;
SELECT * FROM app.items;
CREATE ROLE ann;
CREATE SCHEMA AUTHORIZATION ann;
CREATE SCHEMA owned AUTHORIZATION ann;
SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('ann', 'owned') ORDER BY 1;
CREATE SCHEMA AUTHORIZATION nobody;
DROP SCHEMA ann, owned;
DROP ROLE ann;
CREATE SCHEMA shop;
CREATE TABLE shop.orders (id int PRIMARY KEY, item text);
SELECT 'init' FROM pg_create_logical_replication_slot('schema_slot', 'test_decoding');
INSERT INTO shop.orders VALUES (1, 'tea');
UPDATE shop.orders SET item = 'coffee' WHERE id = 1;
DELETE FROM shop.orders;
SELECT data FROM pg_logical_slot_get_changes('schema_slot', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('schema_slot');
CREATE VIEW shop.v AS SELECT id FROM shop.orders;
CREATE SEQUENCE shop.s;
DROP SCHEMA shop;
DROP SCHEMA shop CASCADE;
DROP TABLE items;
