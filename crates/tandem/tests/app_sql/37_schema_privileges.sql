-- Privileges on schemas: a new schema is its owner's alone (nspacl NULL,
-- has_schema_privilege false for others); GRANT / REVOKE USAGE, CREATE and
-- ALL ON SCHEMA (WITH GRANT OPTION, to PUBLIC) show in nspacl and psql's
-- \dn+; USAGE is needed to read a qualified name in the schema, which a
-- search_path without it skips; CREATE to make a table in it; errors
-- (CREATE SCHEMA needs CREATE on the database and, for another owner, SET ROLE).
CREATE ROLE reader LOGIN;
CREATE SCHEMA sec;
CREATE TABLE sec.t (a int);
INSERT INTO sec.t VALUES (1);
GRANT SELECT ON sec.t TO reader;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'sec';
SELECT has_schema_privilege('reader', 'sec', 'USAGE'), has_schema_privilege('reader', 'sec', 'CREATE');
\c - reader
SELECT * FROM sec.t;
CREATE TABLE sec.u (a int);
CREATE SCHEMA mine;
\c - postgres
GRANT CREATE ON DATABASE postgres TO reader;
\c - reader
CREATE SCHEMA AUTHORIZATION postgres;
CREATE SCHEMA mine;
SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'mine';
DROP SCHEMA mine;
\c - postgres
REVOKE CREATE ON DATABASE postgres FROM reader;
\c - reader
SET search_path = sec, public;
SELECT * FROM t;
RESET search_path;
\c - postgres
GRANT USAGE ON SCHEMA sec TO reader;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'sec';
\c - reader
SELECT * FROM sec.t;
CREATE TABLE sec.u (a int);
\c - postgres
GRANT CREATE ON SCHEMA sec TO reader WITH GRANT OPTION;
GRANT ALL ON SCHEMA sec TO PUBLIC;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'sec';
\dn+ sec
REVOKE ALL ON SCHEMA sec FROM reader, PUBLIC;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'sec';
GRANT USAGE ON SCHEMA nosuch TO reader;
GRANT SELECT ON SCHEMA sec TO reader;
GRANT USAGE ON SCHEMA public TO reader;
SELECT nspname, nspacl FROM pg_namespace WHERE nspname = 'public';
REVOKE USAGE ON SCHEMA public FROM reader;
DROP SCHEMA sec CASCADE;
DROP ROLE reader;
