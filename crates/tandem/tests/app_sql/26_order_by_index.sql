-- ORDER BY ... LIMIT read through a secondary index in its order (no sort).
CREATE TABLE ob (id int PRIMARY KEY, score int, name text, team int);
INSERT INTO ob SELECT g, (g * 7919) % 10007, 'n' || (g % 1000), g % 10 FROM generate_series(1, 20000) g;
INSERT INTO ob VALUES (20001, NULL, 'null score', 1);
CREATE INDEX ob_score ON ob (score);
CREATE INDEX ob_team_score ON ob (team, score);
ANALYZE ob;
EXPLAIN (COSTS OFF) SELECT id, score FROM ob ORDER BY score LIMIT 5;
SELECT id, score FROM ob ORDER BY score LIMIT 5;
SELECT id, score FROM ob ORDER BY score LIMIT 3 OFFSET 100;
SELECT id, score FROM ob WHERE name LIKE 'n1%' ORDER BY score LIMIT 5;
SELECT team, score, id FROM ob ORDER BY team, score LIMIT 4;
SELECT id, score FROM ob ORDER BY score DESC LIMIT 3;
SELECT count(*) FROM (SELECT score FROM ob ORDER BY score LIMIT 20001) s WHERE score IS NULL;
SELECT id, score FROM ob ORDER BY score NULLS FIRST LIMIT 2;
-- an index the WHERE clause chose gives its order too
SELECT id, score FROM ob WHERE score >= 5000 ORDER BY score LIMIT 3;
SELECT id, score FROM ob WHERE team = 3 ORDER BY score LIMIT 3;
SELECT id, score FROM ob WHERE team = 3 ORDER BY team, score LIMIT 3;
SELECT id, score FROM ob WHERE team = 3 AND score > 9000 ORDER BY score LIMIT 3;
SELECT id FROM ob WHERE id > 19990 ORDER BY id LIMIT 3;
SELECT id, score FROM ob WHERE score BETWEEN 100 AND 200 ORDER BY score, id LIMIT 3;
DROP TABLE ob;
