-- numeric NaN and infinities: input, output, comparison and sort order,
-- arithmetic, casts, typmods, aggregates, functions, columns and indexes.
SELECT 'NaN'::numeric, 'nan'::numeric, 'Infinity'::numeric, '-inf'::numeric, '+infinity'::numeric;
SELECT 'NaN'::numeric = 'NaN'::numeric AS nan_eq, 'NaN'::numeric > 'Infinity'::numeric AS nan_gt_inf,
       'Infinity'::numeric > 1e20 AS inf_gt, '-Infinity'::numeric < -1e20 AS ninf_lt;
SELECT 'Infinity'::numeric + 1, 'Infinity'::numeric - 'Infinity'::numeric, 'Infinity'::numeric * 0,
       'Infinity'::numeric * -2, 'NaN'::numeric + 1, 1 / 'Infinity'::numeric, '-Infinity'::numeric / 3;
SELECT 'Infinity'::numeric / 0;
SELECT 'NaN'::numeric / 0;
SELECT 'NaN'::numeric::float8, 'Infinity'::numeric::float8, '-Infinity'::float8::numeric, 'NaN'::float4::numeric;
SELECT 'NaN'::numeric::int;
SELECT 'Infinity'::numeric::bigint;
SELECT 'NaN'::numeric(5,2);
SELECT 'Infinity'::numeric(5,2);
SELECT abs('-Infinity'::numeric), sign('-Infinity'::numeric), sign('NaN'::numeric), floor('Infinity'::numeric),
       ceil('-Infinity'::numeric), round('NaN'::numeric, 2), trunc('Infinity'::numeric);
CREATE TABLE ns (id int PRIMARY KEY, v numeric);
INSERT INTO ns VALUES (1, 1.5), (2, 'NaN'), (3, 'Infinity'), (4, '-Infinity'), (5, NULL), (6, -7);
SELECT id, v FROM ns ORDER BY v, id;
SELECT id, v FROM ns ORDER BY v DESC NULLS LAST, id;
SELECT sum(v), avg(v), min(v), max(v), count(v) FROM ns;
SELECT sum(v), avg(v), max(v) FROM ns WHERE v <> 'NaN';
SELECT sum(v) FROM ns WHERE v IN ('Infinity', '-Infinity');
CREATE INDEX ns_v ON ns (v);
SELECT id FROM ns WHERE v = 'NaN';
SELECT id FROM ns WHERE v > 100 ORDER BY id;
SELECT v::text, to_json(v), to_jsonb(v) FROM ns WHERE id IN (2, 3) ORDER BY id;
SELECT 'NaN'::numeric IS NOT DISTINCT FROM 'nan'::numeric, greatest(1::numeric, 'NaN'), least('Infinity'::numeric, 5);
DROP TABLE ns;
