-- Data-modifying statements in WITH: DELETE/UPDATE/INSERT ... RETURNING read
-- by the statement (INSERT ... SELECT, SELECT, UPDATE ... FROM), each run once
-- even when not read, in a prepared statement too; PostgreSQL's errors.
create table dm_a (id int primary key, v text);
create table dm_b (id int primary key, v text);
insert into dm_a values (1, 'x'), (2, 'y'), (3, 'z');
with moved as (delete from dm_a where id <= 2 returning *) insert into dm_b select * from moved;
select * from dm_a order by id;
select * from dm_b order by id;
with ins as (insert into dm_a values (10, 'new'), (11, 'newer') returning id) select count(*), max(id) from ins;
with upd as (update dm_b set v = upper(v) returning id, v) select * from upd order by id;
with d as (delete from dm_b where id = 1) select 1;
select * from dm_b order by id;
with d as (delete from dm_b where id = 2) select * from d;
with u as (update dm_a set v = 'u' where id = 3 returning *), i as (insert into dm_b select id, v from u returning *) select (select count(*) from u), (select count(*) from i);
with x as (insert into dm_b values (20, 'w') returning *) update dm_a set v = x.v from x where dm_a.id = 10 returning dm_a.*;
select (with x as (delete from dm_a returning *) select count(*) from x);
create view dm_v as with x as (delete from dm_a returning *) select * from x;
prepare p(int) as with d as (delete from dm_a where id = $1 returning id) select id from d;
execute p(11);
execute p(11);
begin read only;
with d as (delete from dm_a returning *) select count(*) from d;
rollback;
begin;
declare c cursor for with d as (delete from dm_a returning *) select * from d;
rollback;
select * from dm_a order by id;
select * from dm_b order by id;
drop table dm_a, dm_b;
create table rq (a int);
insert into rq values (1),(2);
with recursive d as (delete from rq where a = 1 returning *) select * from d;
select * from rq;
drop table rq;
-- One snapshot for the statement and its WITH queries: the statement reads
-- a table as it was before they changed it; a WITH query that no query
-- reads runs after the statement, and a row the statement changed is
-- not changed again by it (PostgreSQL's order).
create table ws (id int primary key, v int);
create index ws_v on ws (v);
insert into ws select g, g * 10 from generate_series(1, 5) g;
with d as (delete from ws where id = 1 returning *) select count(*), sum(v) from ws;
select count(*) from ws;
with i as (insert into ws values (10, 100) returning *) select (select count(*) from ws), (select count(*) from i);
with u as (update ws set v = v + 1 where id = 2 returning *) select id, v from ws where id = 2;
select id, v from ws where id = 2;
with u as (update ws set v = v + 1 returning *) update ws set v = v * 100;
select * from ws order by id;
with d as (delete from ws where id = 3 returning *) update ws set v = -1 where id = 3;
with u as (update ws set v = 7 where id = 4 returning *) delete from ws where id = 4;
select * from ws order by id;
with u as (update ws set v = 555 where id = 5 returning *) select id from ws where v = 555;
with u as (update ws set v = 556 where id = 5 returning *) select id from ws where v = 555;
begin;
insert into ws values (20, 200);
with d as (delete from ws where id = 20 returning *) select count(*) from ws where id = 20;
select count(*) from ws where id = 20;
rollback;
with d1 as (delete from ws where id = 10 returning *), d2 as (update ws set v = 0 where id = 10 returning *) select (select count(*) from d1), (select count(*) from d2);
select * from ws order by id;
with a as (insert into ws values (30, 1) returning *) insert into ws select id + 1, v from ws where id >= 10;
select * from ws order by id;
drop table ws;
