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
