-- How test_decoding prints values of many types: integers, numeric and floats
-- unquoted, booleans as true/false, everything else quoted with '' doubling,
-- NULL as null, type names as format_type prints them.
SET timezone = 'UTC';
CREATE TABLE typ (
    id int PRIMARY KEY,
    i2 int2,
    i8 int8,
    t text,
    vc varchar(10),
    ch char(4),
    n numeric,
    n2 numeric(10, 2),
    b bool,
    f4 float4,
    f8 float8,
    ts timestamp,
    tstz timestamptz,
    d date,
    iv interval,
    by bytea,
    ia int[],
    ta text[],
    j json,
    u uuid
);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO typ VALUES (1, 12, 1234567890123, 'it''s "quoted" \ back', 'varchar', 'ab', 12.345, 1.5, true,
    0.25, 1.5, '2024-03-16 08:00:24.144', '2024-03-16 08:00:24.144+00', '2024-03-16', '1 day 02:03:04',
    '\x00ff10', '{1,2,3}', '{"a b","c''d",NULL}', '{"k": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO typ (id) VALUES (2);
INSERT INTO typ VALUES (3, -32768, -9223372036854775808, '', '', '', -0.000001, -99999999.99, false,
    'NaN', 'Infinity', '1999-12-31 23:59:59', '1999-12-31 23:59:59-05', '1970-01-01', '-3 months',
    '', '{}', '{}', '[]', '00000000-0000-0000-0000-000000000000');
INSERT INTO typ (id, f8, n, t) VALUES (4, 0.1, 1000000000000000000000.5, 'multi word text');
INSERT INTO typ (id, f8, f4, i2) VALUES (5, '1e300', -1.25, 32767);
INSERT INTO typ (id, n, n2) VALUES (6, 'NaN', 'NaN'), (7, 'Infinity', -1), (8, '-Infinity', NULL);
UPDATE typ SET t = 'new', ia = '{4,5}' WHERE id = 1;
UPDATE typ SET b = NULL, ta = ARRAY['x', 'y'] WHERE id = 3;
DELETE FROM typ WHERE id = 2;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0');
SELECT pg_drop_replication_slot('s');
DROP TABLE typ;
