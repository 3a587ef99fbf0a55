-- View definitions as PostgreSQL prints them: pg_get_viewdef(view) and
-- pg_get_viewdef(view, true) (psql's \d+), pg_views.definition and
-- information_schema.views.view_definition. Spaces are shown as '.' where
-- the layout matters (the comparison trims each line).
CREATE SCHEMA vd;
CREATE TABLE vd_items (id int PRIMARY KEY, name varchar(20), code char(3), price numeric(10,2), qty int, big bigint, f float8, ts timestamptz, d date, tags text[], doc jsonb, ok boolean);
CREATE TABLE vd.orders (id int PRIMARY KEY, item_id int, amount numeric, note text);
CREATE VIEW vd_cheap AS SELECT id, name FROM vd_items WHERE price > 10;
CREATE VIEW vd_join AS SELECT a.id, a.name, b.amount * 2 AS dbl FROM vd_items a JOIN vd.orders b ON b.item_id = a.id WHERE a.name LIKE 'x%' AND a.qty BETWEEN 1 AND 5 ORDER BY a.id LIMIT 10;
CREATE VIEW vd_group AS SELECT name, count(*) AS n, sum(price) FROM vd_items GROUP BY name HAVING count(*) > 1;
CREATE VIEW vd_in AS SELECT id FROM vd_items WHERE name IN ('a', 'b') OR id = ANY (ARRAY[1, 2]) AND NOT ok;
CREATE VIEW vd_case AS SELECT id, CASE WHEN price > 5 THEN 'big' ELSE 'small' END AS size, coalesce(name, 'none') c, name || '!' AS bang, upper(name) FROM vd_items;
CREATE VIEW vd_star AS SELECT * FROM vd_items;
CREATE VIEW vd_consts AS SELECT id::text, 1 AS one, 'lit' AS lit, 2.5 AS f, -3 AS neg, NULL::int AS n, now() AS t, current_date AS d, true AS yes, date '2024-01-01' AS day, interval '1 day' AS i FROM vd_items;
CREATE VIEW vd_union AS SELECT DISTINCT name FROM vd_items UNION SELECT note FROM vd.orders;
CREATE VIEW vd_cte AS WITH c AS (SELECT id FROM vd_items) SELECT id FROM c WHERE id IS NOT NULL;
CREATE VIEW vd_sub AS SELECT id, (SELECT max(amount) FROM vd.orders o WHERE o.item_id = vd_items.id) AS mx FROM vd_items WHERE EXISTS (SELECT 1 FROM vd.orders WHERE orders.item_id = vd_items.id) AND id IN (SELECT item_id FROM vd.orders);
CREATE VIEW vd_window AS SELECT id, row_number() OVER (PARTITION BY name ORDER BY id DESC) rn, lag(id) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS prev, sum(qty) OVER w FROM vd_items WINDOW w AS (PARTITION BY code);
CREATE VIEW vd_using AS SELECT a.id, count(*) FILTER (WHERE a.ok) AS c FROM vd_items a LEFT JOIN vd.orders b USING (id) WHERE b.id IS NULL GROUP BY 1;
CREATE VIEW vd_from_sub AS SELECT s.id, s.n FROM (SELECT id, count(*) AS n FROM vd_items GROUP BY id) s WHERE s.n > 1;
CREATE VIEW vd_setops AS SELECT id FROM vd_items UNION ALL SELECT item_id FROM vd.orders ORDER BY 1 OFFSET 2 LIMIT 5;
CREATE VIEW vd_types AS SELECT id, big > 5 AS b, f > 1.5 AS g, code = 'abc' AS c, ts > '2024-01-01 00:00:00+00' AS t, d = '2024-05-01' AS e, doc -> 'a' AS a, doc ->> 'b' AS j, tags[1] AS first_tag, name IS DISTINCT FROM 'x' AS dist FROM vd_items;
CREATE VIEW vd_funcs AS SELECT id, nullif(name, 'x') AS nn, greatest(qty, 5) AS g, coalesce(big, 0) AS cb, length(name) AS len, round(price, 1) AS r, string_agg(name, ',' ORDER BY name) AS names, extract(year FROM ts) AS y, substring(name FROM 1 FOR 2) AS s FROM vd_items GROUP BY id;
CREATE VIEW vd_values AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(a, b);
CREATE VIEW vd_self AS SELECT id FROM vd_items WHERE qty IN (SELECT qty FROM vd_items WHERE ok) AND id NOT IN (1, 2);
CREATE VIEW vd.in_schema AS SELECT id, note FROM vd.orders WHERE note ILIKE '%q%' OR note ~ '^a';
CREATE VIEW vd_recursive AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5) SELECT i FROM r;
\pset format unaligned
\pset tuples_only on
SELECT c.relname, translate(pg_get_viewdef(c.oid, true), ' ', '.') FROM pg_class c WHERE c.relkind = 'v' AND c.relname LIKE 'vd%' ORDER BY 1;
SELECT c.relname, translate(pg_get_viewdef(c.oid), ' ', '.') FROM pg_class c WHERE c.relkind = 'v' AND c.relname LIKE 'vd%' ORDER BY 1;
SELECT translate(pg_get_viewdef('vd.in_schema'::regclass, true), ' ', '.');
SET search_path = vd, public;
SELECT translate(pg_get_viewdef('vd_join'::regclass, true), ' ', '.');
RESET search_path;
\pset format aligned
\pset tuples_only off
\d+ vd_join
\d+ vd.in_schema
SELECT schemaname, viewname, definition FROM pg_views WHERE viewname IN ('vd_cheap', 'in_schema') ORDER BY 2;
SELECT table_schema, table_name, view_definition FROM information_schema.views WHERE table_name IN ('vd_in', 'vd_union') ORDER BY 2;
SELECT pg_get_viewdef('vd_items'::regclass) IS NULL AS not_a_view, pg_get_viewdef(NULL::oid) IS NULL AS null_arg;
SELECT pg_get_viewdef('vd_cheap', true);
SELECT pg_get_viewdef('vd.in_schema');
SELECT pg_get_viewdef('nosuch');
DROP TABLE vd_items, vd.orders CASCADE;
DROP SCHEMA vd CASCADE;
