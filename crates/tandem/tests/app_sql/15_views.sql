-- Views: CREATE [OR REPLACE] VIEW, reading through them (joins, filters,
-- aggregates, a view over a view), what psql and the catalog show, the
-- dependencies that keep a table from being dropped, and DROP VIEW.
create table staff(id int primary key, name text, dept text, salary int);
insert into staff values (1, 'ann', 'eng', 100), (2, 'bob', 'eng', 80), (3, 'cid', 'ops', 70);
create view engineers as select id, name, salary from staff where dept = 'eng';
create view dept_pay(dept, total, heads) as select dept, sum(salary), count(*) from staff group by dept;
create view top_engineers as select name from engineers where salary > 90;
select * from engineers order by id;
select * from dept_pay order by dept;
select * from top_engineers;
select e.name, d.total from engineers e join dept_pay d on d.dept = 'eng' order by e.name;
insert into staff values (4, 'dan', 'eng', 95);
select * from top_engineers order by name;
create view engineers as select 1;
create or replace view engineers as select id, name, salary, dept from staff where dept = 'eng';
create or replace view engineers as select id, name from staff;
create or replace view engineers as select id, upper(name) as name, salary, dept from staff where dept = 'eng';
select * from engineers order by id;
\d engineers
\d dept_pay
\dv
select table_name, view_definition is not null as has_def from information_schema.views where table_schema = 'public' order by table_name;
select viewname, viewowner from pg_views where schemaname = 'public' order by viewname;
select relname, relkind from pg_class where relname in ('engineers', 'dept_pay', 'staff') order by relname;
select attname, atttypid::regtype from pg_attribute where attrelid = 'dept_pay'::regclass and attnum > 0 order by attnum;
drop table staff;
drop view engineers;
drop view if exists nope;
drop view nope;
drop view staff;
drop table engineers;
drop view top_engineers, engineers;
drop table staff cascade;
select count(*) from pg_views where schemaname = 'public';
