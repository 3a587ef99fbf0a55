-- A FROM item's row as json: row_to_json(t), to_json(t), to_jsonb(t),
-- json_agg(t), jsonb_agg(t); arrays inside json as array_to_json prints them.
create table rj (id int, name text, tags int[], ts timestamptz, j jsonb);
insert into rj values (1, 'a', '{1,2}', '2024-01-01 00:00+00', '{"k": 1}'), (2, null, null, null, null);
select row_to_json(t) from rj t order by id;
select to_json(t), to_jsonb(t) from rj t order by id;
select json_agg(t order by id) from rj t;
select jsonb_agg(t) from rj t;
select json_agg(x) from (select id, name from rj) x;
select row_to_json(t) from (select 1 as a, 'x' as b) t;
select json_agg(rj) from rj where id = 2;
select id, (select json_agg(o) from (select id * 10 as n) o) from rj order by id;
drop table rj;
select json_agg(a) from (values (array[1,2]), (array[3])) v(a);
select to_json(array[1,2]), json_build_object('a', array[1,2]), json_build_array(array[1,2], 3);
