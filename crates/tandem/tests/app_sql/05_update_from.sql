-- UPDATE ... FROM, DELETE ... USING and multiple-column SET.
create table acct(id int primary key, owner text, balance int);
create table moves(acct int, amount int);
insert into acct values (1, 'ann', 100), (2, 'bob', 50), (3, 'cid', 0);
insert into moves values (1, 10), (2, -20), (2, 5), (9, 1);
update acct a set balance = a.balance + m.total
  from (select acct, sum(amount) as total from moves group by acct) m
  where m.acct = a.id;
select * from acct order by id;
update acct set balance = balance * 2 from moves where moves.acct = acct.id and moves.amount > 0 returning acct.id, balance, moves.amount;
select * from acct order by id;
update acct set (owner, balance) = ('ANN', 1) where id = 1;
update acct set (owner, balance) = (select upper(owner), balance + 1 from acct a2 where a2.id = acct.id) where id = 2;
select * from acct order by id;
delete from acct using moves where moves.acct = acct.id and moves.amount < 0 returning acct.*;
select * from acct order by id;
delete from moves m using acct a where m.acct = a.id and a.owner = 'ANN';
select * from moves order by acct, amount;
update acct set balance = 0 from moves where moves.acct = 999;
update acct set nope = 1 from moves;
update acct set (owner, balance) = ('x');
drop table moves;
drop table acct;
