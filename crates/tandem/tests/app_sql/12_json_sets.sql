-- json and jsonb aggregates and set-returning functions.
create table items(id int primary key, grp text, doc jsonb);
insert into items values (1, 'a', '{"n": 1, "tags": ["x", "y"]}'), (2, 'a', '{"n": 2}'), (3, 'b', null);
select grp, json_agg(id order by id), jsonb_agg(doc order by id) from items group by grp order by grp;
select json_agg(t order by t) from (values ('x'), (null), ('y')) v(t);
select jsonb_agg(x) from generate_series(1, 0) x;
select * from jsonb_each('{"b": [1, 2], "a": "s"}');
select key, value from jsonb_each_text('{"b": [1, 2], "a": "s", "c": null}') order by key;
select * from jsonb_array_elements('[1, "two", {"three": 3}]');
select jsonb_array_elements_text('["a", 1, null]');
select jsonb_object_keys(doc) as k from items order by 1;
select id, jsonb_array_length(doc -> 'tags') from items where doc ? 'tags';
select count(*) from items, jsonb_array_elements(doc -> 'tags') e where e #>> '{}' = 'x';
select * from jsonb_array_elements('{"a": 1}');
select * from jsonb_each('[1]');
drop table items;
