-- COMMENT ON tables, columns, views, indexes and sequences: what psql and
-- the catalog show, replacing and removing a comment, and errors.
create table cmt(id int primary key, name text);
create index cmt_name_idx on cmt (name);
create view cmt_v as select id from cmt;
create sequence cmt_seq;
comment on table cmt is 'people we know';
comment on column cmt.name is 'what they are called';
comment on column cmt.id is 'it''s the key';
comment on view cmt_v is 'just the ids';
comment on index cmt_name_idx is 'by name';
comment on sequence cmt_seq is 'a counter';
\d+ cmt
\dt+ cmt
\dv+ cmt_v
\di+ cmt_name_idx
select obj_description('cmt'::regclass, 'pg_class'), col_description('cmt'::regclass, 2), obj_description('cmt_seq'::regclass);
select c.relname, d.objsubid, d.description from pg_description d join pg_class c on c.oid = d.objoid where d.classoid = 'pg_class'::regclass order by 1, 2;
comment on table cmt is 'people, again';
comment on column cmt.name is null;
comment on column cmt.name is '';
select d.objsubid, d.description from pg_description d where d.objoid = 'cmt'::regclass order by 1;
comment on table nope is 'x';
comment on column cmt.nope is 'x';
comment on column nope.x is 'x';
comment on index cmt is 'x';
drop table cmt cascade;
drop sequence cmt_seq;
select count(*) from pg_description d join pg_class c on c.oid = d.objoid;
create table cmt2(a int, b int);
comment on column cmt2.b is 'gone soon';
alter table cmt2 drop column b;
alter table cmt2 add column b int;
select col_description('cmt2'::regclass, 2), col_description('cmt2'::regclass, 3);
drop table cmt2;
