-- GROUP BY a table's primary key groups by the table's other columns too
-- (PostgreSQL's functional dependency), as ORMs and reports write it.
create table gk_users (id int primary key, name text, email text unique);
create table gk_orders (id int primary key, user_id int references gk_users, amount int);
create table gk_pair (a int, b int, note text, primary key (a, b));
insert into gk_users values (1, 'ann', 'a@x'), (2, 'bob', 'b@x'), (3, 'cid', 'c@x');
insert into gk_orders values (10, 1, 5), (11, 1, 7), (12, 2, 1);
insert into gk_pair values (1, 1, 'x'), (1, 2, 'y');
select u.id, u.name, count(o.id) as orders, coalesce(sum(o.amount), 0) as total
  from gk_users u left join gk_orders o on o.user_id = u.id
  group by u.id order by u.name;
select gk_users.*, count(*) from gk_users join gk_orders on gk_orders.user_id = gk_users.id group by gk_users.id order by 1;
select name, upper(email) from gk_users group by id having length(name) = 3 order by name desc;
select a, b, note from gk_pair group by a, b order by b;
-- not the whole key, a unique column, another table's column: errors
select a, note from gk_pair group by a;
select email, name from gk_users group by email;
select u.id, o.amount from gk_users u join gk_orders o on o.user_id = u.id group by u.id;
create view gk_totals as select u.id, u.name, count(o.id) as n from gk_users u left join gk_orders o on o.user_id = u.id group by u.id;
select * from gk_totals order by id;
select pg_get_viewdef('gk_totals'::regclass, true);
drop view gk_totals;
drop table gk_orders, gk_users, gk_pair;
