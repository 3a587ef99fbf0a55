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
\du lists_reader
\dx
\df
\dt+ lists_t
drop view lists_v;
drop table lists_t;
drop role lists_reader;
