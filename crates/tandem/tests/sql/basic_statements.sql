-- What a failover-slot setup runs outside replication (tables, DML, SHOW,
-- ALTER SYSTEM and reload, a rollback). Expected output from PostgreSQL 17.
create table bdt(a int);
insert into bdt values (1);
create table tab_rep(a int primary key, b int);
insert into tab_rep values (1,2);
select * from tab_rep;
select * from bdt;
show hot_standby_feedback;
show primary_slot_name;
show synchronized_standby_slots;
alter system set primary_conninfo = 'user=repliuser host=localhost port=55449 dbname=postgres';
alter system set sync_replication_slots = true;
select pg_reload_conf();
show wal_level;
alter system reset all;
select pg_reload_conf();
begin;
insert into tab_rep values (2,2);
select count(*) from tab_rep;
rollback;
select a, b from tab_rep order by a;
drop table bdt, tab_rep;
