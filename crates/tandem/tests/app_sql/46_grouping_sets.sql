-- GROUP BY ROLLUP, CUBE and GROUPING SETS (combined with plain items,
-- HAVING, the grand total of no rows) and GROUPING().
create table gs (region text, product text, qty int);
insert into gs values ('eu', 'a', 1), ('eu', 'b', 2), ('us', 'a', 3), ('us', 'a', 4);
select region, product, sum(qty), count(*) from gs group by rollup(region, product) order by region, product;
select region, product, sum(qty) from gs group by cube(region, product) order by region nulls first, product nulls first;
select region, product, sum(qty) from gs group by grouping sets ((region), (product), ()) order by 1, 2;
select region, sum(qty) from gs group by region, rollup(product) order by 1, 2;
select region, sum(qty) from gs group by rollup(region) having sum(qty) > 3 order by 1;
select count(*), sum(qty) from gs where false group by rollup(region);
select coalesce(region, 'all') as r, sum(qty) from gs group by rollup(region) order by 1;
drop table gs;
create table gs (region text, product text, qty int);
insert into gs values ('eu', 'a', 1), ('eu', 'b', 2), ('us', 'a', 3), ('us', 'a', 4);
select region, product, grouping(region, product), grouping(product), sum(qty) from gs group by rollup(region, product) order by 1, 2;
select case when grouping(region) = 1 then 'all' else region end as r, sum(qty) from gs group by cube(region) order by 1;
select region, grouping(region) from gs group by region order by 1;
select grouping(region) from gs;
select region from gs group by rollup(region) having grouping(region) = 0 order by 1;
select region, grouping(qty) from gs group by region;
drop table gs;
