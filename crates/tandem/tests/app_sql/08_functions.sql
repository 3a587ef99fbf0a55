-- Functions and operators applications use: regexp_split_to_array, age,
-- array containment and overlap, extract (numeric, as since PostgreSQL 14),
-- character(n) compared, measured and concatenated without its padding;
-- LIKE ... ESCAPE and like_escape.
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
select extract(epoch from timestamp '2024-01-01 00:00:01.5'), extract(year from date '2024-05-06'), pg_typeof(extract(year from date '2024-05-06'));
select extract(second from timestamp '2024-01-01 00:00:01.5'), extract(milliseconds from timestamp '2024-01-01 00:00:01.5'), extract(microseconds from timestamp '2024-01-01 00:00:01.5');
select extract(epoch from date '2024-01-01'), extract(dow from date '2024-01-01'), extract(doy from timestamp '2024-03-01 10:00'), extract(month from interval '14 months');
select extract(epoch from timestamptz '2024-01-01 00:00:00+00'), extract(hour from timestamptz '2024-01-01 05:00:00+00'), extract(epoch from interval '1.5 seconds');
select extract(century from date '2024-01-01'), extract(quarter from date '2024-05-01'), extract(isodow from date '2024-01-07'), extract(julian from date '2024-01-01');
select 'ab'::char(4) || 'x', length('ab'::char(4)), 'ab '::char(4) = 'ab'::char(2), 'ab'::char(4)::text || '|';
create table bp(c char(5) primary key, v varchar(10));
insert into bp values ('ab', 'ab');
select c, length(c), c = 'ab', c = 'ab   ', c || '|', v || '|', octet_length(c) from bp;
select count(*) from bp where c = v;
insert into bp values ('ab ', 'x');
update bp set v = c;
select '[' || v || ']' from bp;
drop table bp;
SELECT 'pg_foo' LIKE 'pg/_%' ESCAPE '/', 'pgxfoo' LIKE 'pg/_%' ESCAPE '/', 'a\b' LIKE 'a\b' ESCAPE '#', 'a_b' LIKE 'a#_b' ESCAPE '#', 'a%' NOT LIKE 'a!%' ESCAPE '!', 'A_B' ILIKE 'a$_b' ESCAPE '$', 'a\b' LIKE 'a\\b' ESCAPE '', 'ab' LIKE 'a_' ESCAPE '';
SELECT 'x' LIKE 'x' ESCAPE 'ab';
SELECT like_escape('a#_b\c', '#'), 'x_1' LIKE ('x' || '#_%') ESCAPE '#';
