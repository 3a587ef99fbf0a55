-- Window functions: ranking, offsets, first/last values and aggregates over
-- partitions and frames, with GROUP BY below them and ORDER BY above.
create table emp(id int primary key, dept text, name text, salary int);
insert into emp values
  (1, 'eng', 'ann', 120), (2, 'eng', 'bob', 100), (3, 'eng', 'cid', 100),
  (4, 'ops', 'dan', 90), (5, 'ops', 'eve', 95), (6, 'sales', 'fay', 70),
  (7, 'eng', 'gus', null);
select name, dept, salary,
       row_number() over (partition by dept order by salary desc nulls last, id) as rn,
       rank() over (partition by dept order by salary desc nulls last) as rnk,
       dense_rank() over (partition by dept order by salary desc nulls last) as drnk
  from emp order by dept, rn;
select name, salary,
       percent_rank() over (order by salary) as pr,
       cume_dist() over (order by salary) as cd,
       ntile(3) over (order by id) as tile
  from emp where salary is not null order by id;
select id, salary,
       lag(salary) over (order by id) as prev,
       lead(salary, 2) over (order by id) as next2,
       lag(salary, 1, -1) over (order by id) as prev_or
  from emp order by id;
select id, dept,
       first_value(name) over (partition by dept order by id) as first,
       last_value(name) over (partition by dept order by id) as last_so_far,
       last_value(name) over (partition by dept order by id rows between unbounded preceding and unbounded following) as last,
       nth_value(name, 2) over (partition by dept order by id) as second
  from emp order by id;
select id, salary,
       sum(salary) over (order by id) as running,
       sum(salary) over () as total,
       count(*) over (partition by dept) as in_dept,
       avg(salary) over (partition by dept) as dept_avg,
       sum(salary) over (order by id rows between 1 preceding and 1 following) as moving,
       max(salary) over (order by id rows 2 preceding) as max3
  from emp order by id;
select salary, sum(salary) over (order by salary) as peers_included
  from emp where salary is not null order by salary, id;
select dept, count(*) as n, sum(salary) as s,
       rank() over (order by sum(salary) desc) as by_total,
       sum(count(*)) over () as all_rows
  from emp group by dept order by dept;
select id, sum(id) over (order by id rows between current row and unbounded following) as rest,
       lag(id, -1) over (order by id) as next_by_lag,
       nth_value(id, 9) over (order by id) as ninth,
       ntile(10) over (order by id) as tiles
  from emp order by id;
select distinct dept, count(*) over (partition by dept) from emp order by 1;
select * from (select dept, rank() over (order by dept) as r from emp) s where r > 1 order by dept;
select e.name, d.n, row_number() over (partition by e.dept order by e.name)
  from emp e join (select dept, count(*) as n from emp group by dept) d on d.dept = e.dept
  order by e.name;
select count(*) over (), min(id) over () from emp where false;
select x, sum(x) over (order by x range between unbounded preceding and current row),
       sum(x) over (order by x range between current row and unbounded following)
  from (values (1), (2), (2), (3)) v(x) order by x;
select name from emp order by row_number() over (order by name desc) limit 3;
select id, row_number() over w from emp window w as (order by id);
select id from emp where row_number() over () > 1;
select dept, row_number() over () from emp group by dept having rank() over () > 0;
select count(distinct salary) over () from emp;
select row_number(1) over () from emp;
drop table emp;
