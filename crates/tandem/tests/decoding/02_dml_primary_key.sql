-- INSERT / UPDATE / DELETE on a table with a primary key (replica identity
-- default = the primary key): updates that keep the key print only the new
-- tuple, updates of the key print old-key and new-tuple, deletes print the key.
CREATE TABLE pk (id int PRIMARY KEY, v text, n int);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO pk VALUES (1, 'one', 10);
INSERT INTO pk VALUES (2, 'two', 20), (3, 'three', 30);
INSERT INTO pk (id) VALUES (4);
UPDATE pk SET v = 'uno' WHERE id = 1;
UPDATE pk SET n = n + 1 WHERE id >= 2;
UPDATE pk SET id = 10 WHERE id = 1;
UPDATE pk SET id = id + 100, v = 'moved' WHERE id = 2;
DELETE FROM pk WHERE id = 3;
DELETE FROM pk WHERE id > 100;
UPDATE pk SET v = 'none' WHERE id = 999;
DELETE FROM pk WHERE id = 999;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
-- composite primary key
CREATE TABLE pk2 (a int, b text, c int, PRIMARY KEY (a, b));
INSERT INTO pk2 VALUES (1, 'x', 1);
UPDATE pk2 SET c = 2;
UPDATE pk2 SET b = 'y';
DELETE FROM pk2;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT * FROM pk ORDER BY id;
SELECT pg_drop_replication_slot('s');
DROP TABLE pk, pk2;
