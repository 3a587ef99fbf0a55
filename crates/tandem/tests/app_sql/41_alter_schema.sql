-- ALTER SCHEMA ... RENAME TO and OWNER TO: the schema's tables, views and
-- sequences (serial defaults too) follow the new name; the owner's ACL
-- entries move to the new owner; PostgreSQL's checks and errors.
CREATE ROLE as_owner LOGIN;
CREATE ROLE as_other LOGIN;
CREATE SCHEMA shop;
CREATE TABLE shop.items (id serial PRIMARY KEY, name text);
SET search_path = shop, public;
CREATE VIEW named AS SELECT id, name FROM items WHERE name IS NOT NULL;
RESET search_path;
INSERT INTO shop.items (name) VALUES ('a'), ('b');
GRANT USAGE ON SCHEMA shop TO as_other;
ALTER SCHEMA shop RENAME TO store;
INSERT INTO store.items (name) VALUES ('c');
SELECT * FROM store.items ORDER BY id;
SELECT * FROM store.named ORDER BY id;
SELECT * FROM shop.items;
\d store.items
SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('shop', 'store');
SELECT schemaname, viewname FROM pg_views WHERE schemaname IN ('shop', 'store');
SELECT sequence_schema, sequence_name FROM information_schema.sequences WHERE sequence_schema IN ('shop', 'store');
SELECT pg_get_serial_sequence('store.items', 'id');
ALTER SCHEMA store OWNER TO as_owner;
\dn+ store
ALTER SCHEMA store OWNER TO CURRENT_USER;
SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'store';
-- errors
ALTER SCHEMA nosuch RENAME TO other;
ALTER SCHEMA store RENAME TO public;
ALTER SCHEMA store RENAME TO pg_store;
ALTER SCHEMA store OWNER TO nosuch_role;
\c - as_other
ALTER SCHEMA store RENAME TO mine;
ALTER SCHEMA store OWNER TO as_other;
\c - postgres
DROP SCHEMA store CASCADE;
DROP ROLE as_owner;
DROP ROLE as_other;
