-- GRANT and REVOKE on views: the view's ACL (relacl, \dp), and reading
-- through a view: the reader needs SELECT on the view, the view's owner
-- SELECT on what it reads.
CREATE TABLE gt (a int, secret text);
INSERT INTO gt VALUES (1, 'x');
CREATE VIEW gv AS SELECT a FROM gt;
CREATE VIEW gv2 AS SELECT a + 1 AS b FROM gv;
CREATE ROLE gr LOGIN;
GRANT SELECT ON gv2 TO gr;
GRANT SELECT, INSERT ON gv TO gr;
\dp gv
SELECT relname, relacl FROM pg_class WHERE relname IN ('gv', 'gv2', 'gt') ORDER BY 1;
SELECT has_table_privilege('gr', 'gv', 'SELECT'), has_table_privilege('gr', 'gv2', 'SELECT'), has_table_privilege('gr', 'gt', 'SELECT');
\c - gr
SELECT * FROM gv;
SELECT * FROM gv2;
SELECT * FROM gt;
SELECT g.a FROM gv g JOIN gt USING (a);
\c - postgres
REVOKE SELECT ON gv FROM gr;
\dp gv
\c - gr
SELECT * FROM gv;
SELECT * FROM gv2;
\c - postgres
GRANT ALL ON ALL TABLES IN SCHEMA public TO gr;
\dp
REVOKE ALL ON gv, gv2, gt FROM gr;
GRANT SELECT ON nosuchview TO gr;
DROP VIEW gv2, gv;
DROP TABLE gt;
DROP ROLE gr;
