-- ALTER COLUMN TYPE that rewrites the rows: USING expressions, assignment
-- casts that can fail (a shorter varchar, a narrower integer, numeric and
-- double precision to integer, timestamp to date), PostgreSQL's checks on
-- the conversion and the default, CHECK and NOT NULL against the new
-- values, an index over the column, a rollback, logical decoding (a
-- rewrite decodes as nothing).
CREATE TABLE rw (id int PRIMARY KEY, t text DEFAULT '7', v varchar(10), b bigint, n numeric(8,3), f float8, d timestamp);
INSERT INTO rw VALUES (1, '12', 'abc', 5, 1.5, 2.5, '2024-01-02 03:04:05'), (2, '-3', 'abcdefgh', 70000, -2.25, 3.5, NULL), (3, NULL, NULL, NULL, NULL, NULL, '2023-05-06');
ALTER TABLE rw ALTER t TYPE int;
ALTER TABLE rw ALTER t TYPE int USING t::int;
ALTER TABLE rw ALTER t DROP DEFAULT;
ALTER TABLE rw ALTER t TYPE int USING t::int;
SELECT * FROM rw ORDER BY id;
ALTER TABLE rw ALTER v TYPE varchar(5);
ALTER TABLE rw ALTER v TYPE varchar(8);
ALTER TABLE rw ALTER b TYPE smallint;
ALTER TABLE rw ALTER b TYPE int;
ALTER TABLE rw ALTER n TYPE int;
ALTER TABLE rw ALTER f TYPE int;
ALTER TABLE rw ALTER d TYPE date;
\d rw
SELECT * FROM rw ORDER BY id;
SELECT pg_typeof(t), pg_typeof(b), pg_typeof(n), pg_typeof(f), pg_typeof(d) FROM rw LIMIT 1;
INSERT INTO rw VALUES (4, 40000000000, 'x', 1, 1, 1, now());
INSERT INTO rw VALUES (4, 4, 'abcdefghi', 1, 1, 1, now());
ALTER TABLE rw ALTER t TYPE boolean;
ALTER TABLE rw ALTER t TYPE boolean USING t > 0;
ALTER TABLE rw ALTER t TYPE text USING t;
ALTER TABLE rw ALTER v TYPE int USING length(v);
ALTER TABLE rw ALTER v TYPE int USING 'x';
ALTER TABLE rw ALTER v TYPE int USING length(v)::text;
ALTER TABLE rw ALTER v TYPE int USING nosuch;
ALTER TABLE rw ALTER v TYPE int USING (SELECT 1);
ALTER TABLE rw ALTER v TYPE int USING sum(v);
ALTER TABLE rw ALTER v TYPE int USING nosuchfn(v);
ALTER TABLE rw ALTER nosuch TYPE int;
ALTER TABLE rw ALTER v TYPE nosuchtype;
SELECT * FROM rw ORDER BY id;
CREATE TABLE rd (id int PRIMARY KEY, t text, v varchar(10) CHECK (length(v) < 9), n numeric(6,2) NOT NULL DEFAULT 1);
CREATE INDEX rd_t ON rd (t);
INSERT INTO rd VALUES (1, '10', 'a', 1.25), (2, '20', 'bb', 2.5), (3, NULL, NULL, 3);
SELECT 'init' FROM pg_create_logical_replication_slot('rw_slot', 'test_decoding');
ALTER TABLE rd ALTER t TYPE int USING t::int;
ALTER TABLE rd ALTER n TYPE int;
INSERT INTO rd VALUES (4, 40, 'ccc', 4.6);
UPDATE rd SET t = t + 1 WHERE id = 1;
SELECT data FROM pg_logical_slot_get_changes('rw_slot', NULL, NULL, 'include-xids', '0');
SELECT * FROM rd WHERE t = 11;
SELECT * FROM rd WHERE t > 15 ORDER BY t;
SELECT * FROM rd ORDER BY t DESC NULLS LAST;
ALTER TABLE rd ALTER v TYPE int USING length(v) * 3;
ALTER TABLE rd ALTER v TYPE text USING v::text || 'xxxxxxxxxx';
ALTER TABLE rd ALTER n TYPE text USING NULL;
ALTER TABLE rd ALTER n DROP NOT NULL, ALTER n DROP DEFAULT;
ALTER TABLE rd ALTER n TYPE text USING NULL;
BEGIN;
ALTER TABLE rd ALTER n TYPE int USING id * 10;
SELECT * FROM rd ORDER BY id;
ROLLBACK;
SELECT * FROM rd ORDER BY id;
BEGIN;
ALTER TABLE rd ALTER t TYPE numeric(6,1) USING t / 4.0;
UPDATE rd SET t = t + 0.25 WHERE id = 2 RETURNING *;
COMMIT;
SELECT * FROM rd ORDER BY id;
SELECT data FROM pg_logical_slot_get_changes('rw_slot', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('rw_slot');
\d rd
DROP TABLE rw, rd;
