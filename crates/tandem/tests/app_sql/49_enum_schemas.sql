-- Enum types in a schema of their own: created, found along search_path
-- or by a qualified name, printed qualified where search_path does not find
-- them; ALTER TYPE, DROP TYPE, ALTER SCHEMA RENAME and DROP SCHEMA with
-- them; errors naming a type or schema that does not exist.
create schema ap9;
create type ap9.mood as enum ('sad', 'ok', 'happy');
create type mood as enum ('x', 'y');
create type ap9.mood as enum ('a');
create type nosuch.mood as enum ('a');
create table ap9.person (id int primary key, m ap9.mood default 'ok', ms ap9.mood[]);
create table pub_person (id int primary key, m mood, am ap9.mood);
insert into ap9.person values (1, 'happy', '{sad,ok}'), (2, default, null);
insert into ap9.person values (3, 'x', null);
insert into pub_person values (1, 'x', 'sad');
select * from ap9.person order by id;
select 'ok'::ap9.mood, 'sad'::ap9.mood < 'happy'::ap9.mood, pg_typeof('ok'::ap9.mood), pg_typeof(m) from ap9.person limit 1;
select 'x'::mood, pg_typeof('x'::mood);
select 'ok'::mood;
select 'ok'::nosuch.mood;
select enum_range(null::ap9.mood);
select t.typname, n.nspname, t.typtype from pg_type t join pg_namespace n on n.oid = t.typnamespace where t.typname in ('mood', '_mood') order by 2, 1;
select 'ap9.mood'::regtype, 'ap9.mood'::regtype::oid > 0, to_regtype('ap9.mood'), to_regtype('mood'), format_type('ap9.mood'::regtype, null);
\d ap9.person
\d pub_person
\dT
\dT ap9.*
\dT+ ap9.mood
set search_path = ap9, public;
select 'ok'::mood;
select 'x'::public.mood;
create table t_in_app (id int, m mood);
\d t_in_app
reset search_path;
alter type ap9.mood add value 'meh' before 'ok';
select enum_range(null::ap9.mood);
alter type ap9.mood rename to feeling;
\d ap9.person
alter type ap9.feeling rename to mood;
alter type nosuch rename to x;
alter type ap9.nosuch add value 'q';
select 'happy'::ap9.mood = m from ap9.person where id = 1;
drop schema ap9;
alter schema ap9 rename to ap9b;
\d ap9b.person
select * from ap9b.person order by id;
insert into ap9b.person (id) values (4);
select * from ap9b.person order by id;
drop type ap9b.mood;
drop type if exists ap9b.nosuch, nosuch.nosuch;
drop table pub_person;
drop schema ap9b cascade;
drop type mood;
select 'x'::nosuchtype;
select cast('x' as nosuchtype);
select null::nosuch.mood;
create table zz (a nosuchtype);
CREATE SCHEMA dz;
CREATE TYPE dz.st AS ENUM ('new', 'done');
CREATE TABLE dz.t (id int PRIMARY KEY, s dz.st, a dz.st[]);
SELECT 'init' FROM pg_create_logical_replication_slot('dz_slot', 'test_decoding');
INSERT INTO dz.t VALUES (1, 'new', '{new,done}');
UPDATE dz.t SET s = 'done' WHERE id = 1;
SELECT data FROM pg_logical_slot_get_changes('dz_slot', NULL, NULL, 'include-xids', '0');
SELECT pg_drop_replication_slot('dz_slot');
DROP SCHEMA dz CASCADE;
