-- psql's list commands over a small schema: tables, indexes, sequences,
-- views, schemas, roles, extensions, functions.
create table lists_t(id serial primary key, v text unique);
create view lists_v as select id from lists_t;
create role lists_reader nologin;
\dt
\di
\ds
\dv
\dn
\dn+
\du lists_reader
\dx
\df
\dt+ lists_t
select datname, datacl from pg_database order by 1;
select obj_description(2200, 'pg_namespace');
drop view lists_v;
drop table lists_t;
drop role lists_reader;
