-- FOREIGN KEY / REFERENCES: creation and naming, checks on the referencing
-- and the referenced side, ON DELETE / ON UPDATE actions, what psql and the
-- catalog show, and dropping.
create table teams(id int primary key, code text unique, name text);
create table members(id int primary key, team int references teams, team_code text, boss int,
  constraint members_code_fk foreign key (team_code) references teams (code) on update cascade on delete set null);
alter table members add foreign key (boss) references members (id) on delete cascade;
insert into teams values (1, 'red', 'Red'), (2, 'blue', 'Blue'), (3, 'green', 'Green');
insert into members values (1, 1, 'red', null), (2, 1, 'red', 1), (3, 2, 'blue', 1), (4, null, null, 3);
insert into members values (5, 9, null, null);
insert into members values (5, 1, 'pink', null);
insert into members values (5, 1, null, 7);
update members set team = 4 where id = 1;
update members set team = 3 where id = 1;
delete from teams where id = 1;
delete from teams where id = 2;
update teams set id = 20 where id = 2;
update teams set code = 'azure' where id = 2;
select * from members order by id;
delete from teams where code = 'azure' and false;
update members set team = null where team = 2;
delete from teams where id = 2;
select * from members order by id;
delete from members where id = 1;
select * from members order by id;
insert into members values (6, 3, 'green', null), (7, 3, 'green', 6);
begin;
insert into teams values (4, 'gold', 'Gold');
insert into members values (8, 4, 'gold', 7);
commit;
select * from members order by id;
insert into members values (9, 5, null, null), (10, null, null, 11), (11, null, null, null);
insert into members values (11, null, null, null), (10, null, null, 11);
select * from members order by id;
\d members
\d teams
select conname, contype, confupdtype, confdeltype, confmatchtype, conkey::text, confkey::text, confrelid::regclass, conindid::regclass from pg_constraint where conrelid = 'members'::regclass order by conname;
select conname, pg_get_constraintdef(oid) from pg_constraint where contype = 'f' order by conname;
-- errors when creating one
create table bad1(a int references nope);
create table bad2(a int references teams (name));
create table bad3(a text references teams);
create table bad4(a int, b int, foreign key (a, b) references teams (id));
create table bad5(a int references teams (nope));
create table bad7(a int references bad7);
create table bad6(a int, foreign key (nope) references teams);
alter table members add constraint members_team_fkey foreign key (team) references teams;
alter table members add constraint m_bad foreign key (id) references teams;
-- RESTRICT and NO ACTION, composite keys, MATCH FULL
create table regions(a int, b int, primary key (a, b));
insert into regions values (1, 1), (1, 2);
create table shops(id int primary key, a int, b int, foreign key (a, b) references regions on delete restrict on update restrict);
create table kiosks(id int primary key, a int, b int, foreign key (b, a) references regions (b, a) match full);
insert into shops values (1, 1, 1), (2, 1, null), (3, 7, null);
insert into shops values (4, 1, 3);
insert into kiosks values (1, 2, 1), (2, null, null);
insert into kiosks values (3, 1, null);
insert into kiosks values (3, 1, 2);
delete from regions where a = 1 and b = 1;
update regions set b = 5 where b = 2;
select * from shops order by id;
select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid in ('shops'::regclass, 'kiosks'::regclass) order by conname;
-- dropping referenced tables, keys, columns and constraints
alter table teams drop constraint teams_code_key;
alter table teams drop column code;
create unique index teams_name_idx on teams (name);
create table fans(id int primary key, team_name text references teams (name) on delete no action);
drop index teams_name_idx;
alter table fans drop column team_name;
\d fans
drop table fans;
drop index teams_name_idx;
drop table teams;
truncate teams;
truncate teams, members;
select count(*) from teams;
alter table members drop constraint members_code_fk;
\d members
drop table regions cascade;
\d shops
drop table members;
drop table teams;
drop table shops, kiosks;
-- integers of other widths, text against varchar, TRUNCATE ... CASCADE
create table p8(id bigint primary key, tag varchar(10) unique);
create table c4(id int primary key, p int references p8 on update cascade, tag text references p8 (tag) on delete cascade);
insert into p8 values (1, 'one'), (2, 'two');
insert into c4 values (1, 1, 'one'), (2, 2, 'two'), (3, 1, 'two');
insert into c4 values (4, 3, null);
update p8 set id = 10 where id = 1;
update p8 set id = 20 where id = 2 and false;
delete from p8 where tag = 'two';
select * from c4 order by id;
truncate p8 cascade;
select count(*) from c4;
drop table c4, p8;
