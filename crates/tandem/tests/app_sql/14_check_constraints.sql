-- CHECK constraints: column and table constraints, names, enforcement by
-- INSERT, UPDATE, ON CONFLICT and COPY, adding one to a table with rows,
-- what psql and the catalog show, and dropping.
create table items(id int primary key, price numeric check (price > 0), qty int not null default 1,
  lo int, hi int, constraint range_ok check (lo <= hi), check (qty between 1 and 100));
insert into items values (1, 9.5, 2, 1, 5);
insert into items values (2, 0, 1, null, null);
insert into items values (2, 3, 0, null, null);
insert into items values (2, 3, 1, 7, 2);
insert into items (id, price) values (2, null);
select * from items order by id;
update items set price = -1 where id = 1;
update items set hi = 0 where id = 1;
update items set price = price * 2 where id = 1;
insert into items values (1, 5, 1, 1, 1) on conflict (id) do update set qty = 1000;
insert into items values (1, 5, 1, 1, 1) on conflict (id) do update set qty = 10;
copy items from stdin;
3	4.5	1	\N	\N
4	-4	1	\N	\N
\.
copy items from stdin;
3	4.5	1	\N	\N
\.
select * from items order by id;
\d items
select conname, contype, conkey::text, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'items'::regclass order by conname;
select relchecks from pg_class where relname = 'items';
alter table items add constraint qty_even check (qty % 2 = 0);
alter table items add constraint qty_small check (qty < 50);
alter table items add check (id > 0 and price < 1000);
alter table items add constraint qty_small check (qty < 60);
\d items
alter table items drop constraint items_price_check;
insert into items values (5, -1, 1, null, null);
alter table items drop constraint nope;
alter table items drop constraint if exists nope;
alter table items drop column lo;
\d items
create table bad(a int check (b > 0));
create table bad(a int check (a));
create table bad(a int check ((select 1) = 1));
drop table items;
-- how the expressions are kept
create table shapes(id int primary key, kind text check (kind in ('circle', 'square')),
  label varchar(20) check (length(label) > 2 and label <> 'none'),
  w int check (w > -1), h bigint, ratio float8 check (ratio > 0 or ratio is null),
  active boolean check (active is not null), code char(2),
  check (not (w > 100 and h > 100)), check ((w + 1) * 2 < 1000 or h % 2 = 0),
  check (h between -5 and 3000000000), check (code <> 'XX'));
\d shapes
select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'shapes'::regclass and contype = 'c' order by conname;
insert into shapes values (1, 'circle', 'big', 3, 4, 1.5, true, 'ab');
insert into shapes values (2, 'triangle', 'big', 3, 4, 1.5, true, 'ab');
insert into shapes values (2, 'square', 'no', 3, 4, 1.5, true, 'ab');
insert into shapes values (2, 'square', 'none', 3, 4, 1.5, true, 'ab');
insert into shapes values (2, 'square', 'wide', 300, 400, null, false, 'XX');
insert into shapes values (2, 'square', 'wide', 300, 40, null, false, 'ab');
select id, kind, label from shapes order by id;
drop table shapes;
