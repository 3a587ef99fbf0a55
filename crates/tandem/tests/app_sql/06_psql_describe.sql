-- psql's describe commands on a table, its primary key and a sequence.
create table items(id int primary key, name text not null, price numeric(10,2) default 0,
  tags text[], created timestamptz);
create sequence item_ids;
\d items
\d+ items
\dt
\di
\ds
\dn
drop sequence item_ids;
drop table items;
