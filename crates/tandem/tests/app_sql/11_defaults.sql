-- Column defaults as the catalog gives them back (pg_get_expr, psql's \d,
-- information_schema), and as inserts use them.
create table d (
  id serial primary key,
  t text default 'anon',
  v varchar(10) default 'it''s',
  c char(3) default 'ab',
  i int default 7,
  q int default '5',
  n int default -1,
  m numeric default -1.5,
  b bool default 'true',
  dt date default '2024-01-02',
  j jsonb default '{"a": 1}',
  ts timestamptz default now()
);
select attname, pg_get_expr(adbin, adrelid) from pg_attrdef join pg_attribute on attrelid = adrelid and attnum = adnum where adrelid = 'd'::regclass order by adnum;
select column_name, column_default from information_schema.columns where table_name = 'd' order by ordinal_position;
\d d
alter table d alter column t set default 'x';
alter table d alter column i set default -2;
insert into d default values;
select id, t, v, c, i, q, n, m, b, dt, j, ts is not null as ts from d;
drop table d;
