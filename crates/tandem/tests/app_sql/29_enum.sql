-- CREATE TYPE ... AS ENUM: labels ordered by declaration, casts, comparisons,
-- columns, indexes, arrays, catalog rows, ALTER TYPE ... ADD VALUE, DROP TYPE
-- (CASCADE drops the columns of the type).
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE mood AS ENUM ('x');
CREATE TYPE empty_enum AS ENUM ();
SELECT enum_range(NULL::empty_enum), enum_first(NULL::empty_enum);
CREATE TABLE mood (a int);
SELECT 'happy'::mood, 'sad'::mood < 'happy'::mood AS lt, 'ok'::mood = 'ok' AS eq;
SELECT 'angry'::mood;
SELECT 'happy'::mood::text, 'ok'::text::mood, pg_typeof('ok'::mood), format_type('mood'::regtype, -1);
CREATE TABLE person (id int PRIMARY KEY, name text, current mood NOT NULL DEFAULT 'ok', past mood[]);
INSERT INTO person VALUES (1, 'ann', 'happy', '{sad,ok}'), (2, 'bob', 'sad', NULL), (3, 'cy', DEFAULT, '{}');
INSERT INTO person VALUES (4, 'dee', 'grumpy');
SELECT * FROM person ORDER BY current, id;
SELECT name FROM person WHERE current > 'sad' ORDER BY current DESC;
SELECT current, count(*) FROM person GROUP BY current ORDER BY current;
SELECT min(current), max(current) FROM person;
SELECT past[1], pg_typeof(past) FROM person WHERE id = 1;
UPDATE person SET current = 'happy' WHERE current = 'ok' RETURNING id, current;
CREATE INDEX person_current ON person (current);
SELECT id FROM person WHERE current = 'happy' ORDER BY id;
SELECT enum_range(NULL::mood), enum_first(NULL::mood), enum_last(NULL::mood);
SELECT enum_range('ok'::mood, NULL);
\d person
CREATE TYPE person AS ENUM ('x');
CREATE TYPE "Weird Name" AS ENUM ('a b', 'it''s');
SELECT 'it''s'::"Weird Name", enum_range(NULL::"Weird Name"), format_type('"Weird Name"'::regtype, NULL);
DROP TYPE "Weird Name", empty_enum;
\dT mood
SELECT typname, typtype, typcategory, typlen, typarray <> 0 AS has_array FROM pg_type WHERE typname IN ('mood', '_mood') ORDER BY typname;
SELECT enumlabel, enumsortorder FROM pg_enum WHERE enumtypid = 'mood'::regtype ORDER BY enumsortorder;
ALTER TYPE mood ADD VALUE 'ecstatic';
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';
ALTER TYPE mood ADD VALUE 'meh';
ALTER TYPE mood ADD VALUE 'x' AFTER 'nope';
SELECT enumlabel, enumsortorder FROM pg_enum WHERE enumtypid = 'mood'::regtype ORDER BY enumsortorder;
INSERT INTO person VALUES (5, 'eve', 'meh'), (6, 'fay', 'ecstatic');
SELECT name, current FROM person ORDER BY current, id;
SELECT 'sad'::mood = 'sad'::text;
ALTER TABLE person DROP COLUMN past;
DROP TYPE mood;
DROP TABLE person;
DROP TYPE mood;
DROP TYPE mood;
DROP TYPE IF EXISTS mood;
CREATE TYPE mood2 AS ENUM ('a', 'b');
CREATE TABLE m2 (id int PRIMARY KEY, m mood2 DEFAULT 'a', note text);
INSERT INTO m2 VALUES (1, 'b', 'x');
DROP TYPE mood2 CASCADE;
\d m2
SELECT * FROM m2;
DROP TABLE m2;
