-- CREATE TABLE (LIKE source ...): the columns with their types and NOT
-- NULL, and what INCLUDING asks for (defaults, CHECK constraints, indexes,
-- identity, comments, all); several LIKEs and columns of its own; errors.
create table lk_src (id serial primary key, code varchar(10) not null unique, qty int default 5 check (qty >= 0), note text, made timestamptz default now());
create index lk_src_note on lk_src (note);
comment on column lk_src.note is 'a note';
create table lk_a (like lk_src);
\d lk_a
create table lk_b (like lk_src including defaults, extra int);
\d lk_b
create table lk_c (like lk_src including all);
\d+ lk_c
create table lk_d (extra int, like lk_src including constraints including indexes);
\d lk_d
insert into lk_d (extra, id, code, qty) values (1, 1, 'a', -1);
insert into lk_d (extra, id, code, qty) values (1, 1, 'a', 1), (2, 1, 'b', 2);
create table lk_e (like nosuch);
create table lk_f (like lk_src excluding all including defaults);
\d lk_f
create table lk_g (like lk_src including nonsense);
create table lk_h (like);
create schema lks;
create type lks.tone as enum ('lo', 'hi');
create table lks.src2 (n bigint generated always as identity, t lks.tone default 'hi', arr int[] not null);
create table lk_i (like lks.src2 including identity including defaults, like lk_a);
\d lk_i
insert into lk_i (code, id) values ('x', 1);
select n, t, arr, id, code from lk_i;
insert into lk_i (code, id, arr) values ('x', 1, '{1}') returning n, t, arr;
create table lk_j (like lks.src2);
\d lk_j
drop table lk_a, lk_b, lk_c, lk_d, lk_f, lk_i, lk_j, lk_src;
drop schema lks cascade;
