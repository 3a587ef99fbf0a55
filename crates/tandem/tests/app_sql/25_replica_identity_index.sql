-- REPLICA IDENTITY USING INDEX: which indexes qualify, and what the catalog
-- and psql show.
CREATE TABLE ri (id int PRIMARY KEY, a int NOT NULL, b int, c int NOT NULL);
CREATE UNIQUE INDEX ri_a ON ri (a);
CREATE UNIQUE INDEX ri_b ON ri (b);
CREATE INDEX ri_c ON ri (c);
CREATE TABLE other (x int NOT NULL UNIQUE);
ALTER TABLE ri REPLICA IDENTITY USING INDEX nosuch;
ALTER TABLE ri REPLICA IDENTITY USING INDEX other_x_key;
ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_b;
ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_c;
ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_a;
SELECT relreplident FROM pg_class WHERE relname = 'ri';
SELECT indexrelid::regclass, indisreplident FROM pg_index WHERE indrelid = 'ri'::regclass ORDER BY indexrelid::regclass::text;
SELECT pg_get_replica_identity_index('ri');
\d ri
ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_pkey;
SELECT relreplident FROM pg_class WHERE relname = 'ri';
\d ri
DROP TABLE ri, other;
