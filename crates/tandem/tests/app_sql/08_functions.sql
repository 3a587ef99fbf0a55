-- Functions and operators applications use: regexp_split_to_array, age,
-- array containment and overlap.
select regexp_split_to_array('a,b,,c', ',');
select regexp_split_to_array('hello world  again', '\s+');
select regexp_split_to_array('abc', '');
select regexp_split_to_array('AxBXc', 'x', 'i');
select regexp_split_to_array('', ',');
select age(timestamp '2024-03-01', timestamp '2023-01-15');
select age(timestamp '2023-01-15', timestamp '2024-03-01');
select age(timestamp '2024-03-31 10:00', timestamp '2024-02-29 12:00');
select age(timestamptz '2024-05-01 00:00+00', timestamptz '2024-04-30 00:00+00');
select array[1,2,3] @> array[2], array[1,2,3] @> array[2,4], array[2] <@ array[1,2,3];
select array[1,2] && array[2,5], array[1,2] && array[3], array[1,null] @> array[1];
select array['a','b'] @> array['b'], array[1,2,2] @> array[2,2,2], array[1.5, 2] && array[2.0];
create table tagged(id int primary key, tags text[]);
insert into tagged values (1, '{red,blue}'), (2, '{green}'), (3, '{blue,green}');
select id from tagged where tags @> '{blue}' order by id;
select id from tagged where tags && array['green', 'pink'] order by id;
drop table tagged;
