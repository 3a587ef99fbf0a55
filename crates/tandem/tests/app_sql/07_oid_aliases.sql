-- OID alias types print names (regclass, regtype, regnamespace), casts to
-- text give the name, and output columns are named as PostgreSQL names them.
create table things(id int primary key, label varchar(20));
select 'things'::regclass, 'things'::regclass::text as as_text, 'things'::regclass::oid = oid as same
  from pg_class where relname = 'things';
select 23::regtype, 1043::regtype::text, 'integer'::regtype::oid;
select 2200::regnamespace, 'pg_catalog'::regnamespace::oid, 11::regnamespace::text;
select 0::regclass, 0::regtype;
select attname, atttypid::regtype from pg_attribute
  where attrelid = 'things'::regclass and attnum > 0 order by attnum;
select relname, relnamespace::regnamespace from pg_class where relname = 'things_pkey';
select 'nope'::regnamespace;
select 1::int8::text, 1::text, (1 + 1)::text, 'a'::varchar::text;
select 'pg_class'::regclass, 'pg_catalog.pg_class'::regclass::oid, '1259'::regclass,
  'things_pkey'::regclass, '"things"'::regclass;
select 'Nope'::regclass;
select '"Nope"'::regclass;
select 'public.nope'::regclass;
drop table things;
