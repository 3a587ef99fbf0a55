-- SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT, outside and inside
-- transaction blocks, after errors, with DDL and with settings.
savepoint a;
release a;
rollback to a;
create table sp(a int primary key, b text);
begin;
insert into sp values (1, 'one');
savepoint s1;
insert into sp values (2, 'two');
select * from sp order by a;
rollback to savepoint s1;
select * from sp order by a;
insert into sp values (3, 'three');
savepoint s2;
insert into sp values (3, 'dup');
select 1;
rollback to s2;
select * from sp order by a;
update sp set b = 'THREE' where a = 3;
savepoint s3;
delete from sp where a = 1;
rollback to s3;
select * from sp order by a;
release savepoint s2;
release s2;
rollback to s3;
rollback to nope;
select 1;
rollback;
select count(*) from sp;
-- a savepoint named twice: the newest one is meant, the older one stays
begin;
insert into sp values (5, 'five');
savepoint x;
insert into sp values (6, 'six');
savepoint x;
insert into sp values (7, 'seven');
rollback to x;
release x;
select * from sp order by a;
rollback to x;
select * from sp order by a;
rollback to x;
commit;
select * from sp order by a;
-- settings: SET after a savepoint is undone by ROLLBACK TO, kept by RELEASE
begin;
set local work_mem = '8MB';
savepoint g;
set work_mem = '16MB';
show work_mem;
rollback to g;
show work_mem;
savepoint h;
set work_mem = '32MB';
release h;
show work_mem;
commit;
show work_mem;
reset work_mem;
-- DDL after a savepoint is undone with it
begin;
savepoint a;
create table sp2(x int);
insert into sp2 values (1);
select count(*) from sp2;
rollback to a;
select count(*) from pg_tables where tablename = 'sp2';
create table sp3(x int);
insert into sp3 values (3);
commit;
select * from sp3;
-- an error right after the savepoint, then work after ROLLBACK TO commits
begin;
savepoint a;
select 1/0;
release a;
rollback to a;
insert into sp values (8, 'eight');
commit;
select * from sp order by a;
-- a failed block without a savepoint still ends in ROLLBACK
begin;
insert into sp values (9, 'nine');
select 1/0;
rollback to a;
commit;
select count(*) from sp where a = 9;
-- psql's ON_ERROR_ROLLBACK wraps each statement of a block in a savepoint
\set ON_ERROR_ROLLBACK on
begin;
insert into sp values (20, 'twenty');
insert into sp values (20, 'again');
insert into sp values (21, 'twenty-one');
commit;
\set ON_ERROR_ROLLBACK off
select * from sp where a >= 20 order by a;
drop table sp;
drop table sp3;
