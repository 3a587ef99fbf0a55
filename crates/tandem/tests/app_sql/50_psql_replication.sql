-- psql's replication meta-commands (\dRp, \dRp+, \dRs, \dRs+) over
-- publications of every kind and a subscription created without connecting.
create table rp_a (id int primary key, v text);
create table rp_b (id int primary key, w int);
create publication rp_all for all tables;
create publication rp_some for table rp_a, rp_b with (publish = 'insert, update');
create publication rp_none;
alter publication rp_none add table rp_b;
\dRp
\dRp+
\dRp+ rp_some
\dRp nosuch
create subscription rp_sub connection 'host=127.0.0.1 port=1 dbname=postgres' publication rp_all, rp_some with (connect = false, slot_name = none);
\dRs
\dRs+
\dRs+ rp_sub
alter subscription rp_sub set (synchronous_commit = 'remote_apply', disable_on_error = true);
\dRs+
\dt+ rp_a
drop subscription rp_sub;
drop publication rp_all, rp_some, rp_none;
drop table rp_a, rp_b;
