-- information_schema's constraint views, as ORMs and tools read them.
create table isc_p(id int primary key, code text unique, a int, b int, unique (a, b));
create table isc_c(id int primary key, p int references isc_p on delete cascade, code text,
  qty int check (qty > 0), constraint isc_c_code_fk foreign key (code) references isc_p (code) on update set null);
select constraint_name, table_name, constraint_type, is_deferrable, initially_deferred, enforced
  from information_schema.table_constraints where table_schema = 'public' and constraint_name not like '%not_null' order by table_name, constraint_name;
select constraint_name, table_name, column_name, ordinal_position, position_in_unique_constraint
  from information_schema.key_column_usage where table_schema = 'public' order by table_name, constraint_name, ordinal_position;
select constraint_name, unique_constraint_name, match_option, update_rule, delete_rule
  from information_schema.referential_constraints where constraint_schema = 'public' order by constraint_name;
select constraint_name, check_clause from information_schema.check_constraints
  where constraint_schema = 'public' and constraint_name not like '%not_null' order by constraint_name;
select count(*) from information_schema.check_constraints where constraint_name like '%not_null' and check_clause = 'id IS NOT NULL';
drop table isc_c, isc_p;
