-- WITH RECURSIVE: counting, walking a tree, UNION removing repeats (which
-- ends a cycle), several CTEs, and the errors.
with recursive t(n) as (select 1 union all select n + 1 from t where n < 5)
select n from t;
with recursive t(n) as (values (1) union all select n * 2 from t where n < 100)
select sum(n), count(*) from t;
create table tree(id int primary key, parent int, name text);
insert into tree values (1, null, 'root'), (2, 1, 'a'), (3, 1, 'b'), (4, 2, 'a1'),
  (5, 2, 'a2'), (6, 4, 'a1x');
with recursive sub as (
  select id, name, 0 as depth, name as path from tree where parent is null
  union all
  select c.id, c.name, s.depth + 1, s.path || '/' || c.name
    from tree c join sub s on c.parent = s.id
)
select id, depth, path from sub order by path;
with recursive up(id, parent) as (
  select id, parent from tree where name = 'a1x'
  union all
  select t.id, t.parent from tree t, up where t.id = up.parent
)
select count(*), min(id) from up;
create table edge(a int, b int);
insert into edge values (1, 2), (2, 3), (3, 1), (3, 4);
with recursive reach(n) as (select 1 union select b from edge join reach on a = n)
select n from reach order by n;
with recursive a(x) as (select 1 union all select x + 1 from a where x < 3),
  b(y) as (select x * 10 from a)
select * from b order by y;
with recursive t(n) as (select 1 union all select n + 1 from t where n < 3)
select * from t t1 join t t2 on t1.n = t2.n - 1 order by 1;
with recursive t(n) as (select 1 union all select n + 1 from t where n < 3 order by 1) select * from t;
drop table edge;
drop table tree;
