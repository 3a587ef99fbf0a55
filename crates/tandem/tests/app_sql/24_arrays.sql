-- Array slices and the array containment operators.
SELECT (ARRAY[1,2,3,4])[2:3] AS mid, (ARRAY[1,2,3,4])[:2] AS head, (ARRAY[1,2,3,4])[3:] AS tail, (ARRAY[1,2,3,4])[:] AS all;
SELECT (ARRAY[1,2,3,4])[0:10] AS wide, (ARRAY[1,2,3,4])[3:2] AS empty, (ARRAY[1,2,3,4])[NULL:2] AS null_bound;
SELECT ('{a,b,c}'::text[])[2:2], pg_typeof(('{a,b,c}'::text[])[2:2]);
CREATE TABLE sl (id int PRIMARY KEY, tags text[]);
INSERT INTO sl VALUES (1, '{x,y,z}'), (2, NULL);
SELECT id, tags[1:2], tags[2:] FROM sl ORDER BY id;
SELECT ARRAY[1,2] @> ARRAY[1], ARRAY[1,2] && ARRAY[3], ARRAY[1] <@ ARRAY[1,2];
SELECT (ARRAY[1,2,3])['2':'3'];
DROP TABLE sl;
SELECT ('{{1,2},{3,4},{5,6}}'::int[])[2:3] AS rows_2_3;
SELECT array_length((ARRAY[1,2,3,4,5])[2:4], 1), ((ARRAY[1,2,3,4,5])[2:4])[1] AS first_of_slice;
