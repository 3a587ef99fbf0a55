-- Secondary indexes and UNIQUE constraints: creation, naming, enforcement,
-- what psql and the catalog show, and dropping.
create table users(id int primary key, email text unique, name text, team int);
insert into users values (1, 'a@x', 'ann', 1), (2, 'b@x', 'bob', 3), (3, null, 'cid', 2), (4, null, 'dan', 2);
insert into users values (5, 'a@x', 'eve', 3);
update users set email = 'b@x' where id = 1;
update users set email = 'c@x' where id = 1;
update users set email = 'a@x' where id = 2;
select * from users order by id;
create index on users (team);
create index users_name_team on users (name, team);
create index if not exists users_name_team on users (name);
create unique index on users (name);
create unique index users_team_uniq on users (team);
create index users on users (name);
create index missing_idx on nope (a);
create index bad_col_idx on users (nope);
\d users
select indexname, indexdef from pg_indexes where tablename = 'users' order by indexname;
select c.relname, i.indisunique, i.indisprimary, i.indnatts from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'users'::regclass order by c.relname;
select conname, contype, conkey::text, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'users'::regclass order by conname;
select * from users where team = 2 order by id;
select * from users where name = 'bob';
select count(*) from users where team >= 1 and team < 3;
select name from users where team > 1 order by team, name;
insert into users values (6, 'd@x', 'bob', 9);
insert into users values (6, 'd@x', 'fay', 9) on conflict do nothing;
select * from users order by id;
begin;
delete from users where id = 6;
insert into users values (7, 'd@x', 'fay', 9);
commit;
select * from users where email = 'd@x';
create table pairs(a int, b int, constraint pairs_ab unique (a, b));
insert into pairs values (1, 1), (1, 2), (1, null), (1, null);
insert into pairs values (1, 2);
alter table pairs add constraint pairs_b_key unique (b);
alter table pairs add unique (a);
delete from pairs where b is null or b = 2;
alter table pairs add unique (a);
\d pairs
alter table pairs drop constraint pairs_ab;
alter table pairs drop constraint nope;
alter table pairs drop constraint if exists nope;
drop index pairs_a_key;
drop index users_name_idx, users_team_idx;
drop index nope_idx;
drop index if exists nope_idx;
\d users
truncate users;
insert into users values (1, 'a@x', 'ann', 1);
select * from users where email = 'a@x';
drop table pairs;
drop table users;
select count(*) from pg_indexes where schemaname = 'public';
