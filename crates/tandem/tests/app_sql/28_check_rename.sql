-- RENAME COLUMN of a column CHECK constraints read: they go on working and
-- print the new name (quoted where needed), function and type names untouched.
CREATE TABLE ck (a int CHECK (a > 0), b int, lower text, CHECK (a < b), CHECK (lower(lower) <> 'x'), CHECK (b::numeric > 0));
ALTER TABLE ck RENAME COLUMN a TO "Z z";
ALTER TABLE ck RENAME COLUMN lower TO l;
ALTER TABLE ck RENAME COLUMN b TO numeric;
INSERT INTO ck VALUES (1, 2, 'y');
INSERT INTO ck VALUES (-1, 2, 'y');
INSERT INTO ck VALUES (3, 2, 'y');
INSERT INTO ck VALUES (1, 2, 'X');
\d ck
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ck'::regclass ORDER BY conname;
DROP TABLE ck;
