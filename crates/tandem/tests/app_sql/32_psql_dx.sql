-- psql's \dx+ (an extension's members, from pg_depend) and
-- pg_describe_object for the objects tandem has.
\dx
\dx+
\dx+ plpgsql
CREATE TYPE colour AS ENUM ('red');
CREATE TABLE dt (id int PRIMARY KEY, c colour);
CREATE VIEW dv AS SELECT id FROM dt;
CREATE SEQUENCE ds;
SELECT pg_describe_object('pg_class'::regclass, 'dt'::regclass, 0) AS t,
       pg_describe_object('pg_class'::regclass, 'dt'::regclass, 2) AS col,
       pg_describe_object('pg_class'::regclass, 'dv'::regclass, 0) AS v,
       pg_describe_object('pg_class'::regclass, 'ds'::regclass, 0) AS s,
       pg_describe_object('pg_class'::regclass, 'dt_pkey'::regclass, 0) AS i;
SELECT pg_describe_object('pg_type'::regclass, 'colour'::regtype, 0) AS ty,
       pg_describe_object('pg_type'::regclass, 'int4'::regtype, 0) AS builtin,
       pg_describe_object('pg_namespace'::regclass, 2200, 0) AS ns,
       pg_describe_object('pg_class'::regclass, 'pg_class'::regclass, 0) AS catalog,
       pg_describe_object('pg_class'::regclass, 'information_schema.tables'::regclass, 0) AS isv;
SELECT pg_describe_object('pg_class'::regclass, 4000000000, 0) IS NULL AS missing;
SELECT count(*) FROM pg_depend WHERE deptype = 'e' AND refclassid = 'pg_extension'::regclass;
DROP VIEW dv; DROP TABLE dt; DROP SEQUENCE ds; DROP TYPE colour;
