-- Enum columns: test_decoding prints a label quoted, with the type's name;
-- pgoutput sends a Type message for the enum type before its relation,
-- and the label as text.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE em (id int PRIMARY KEY, m mood, ms mood[]);
SELECT 'init' FROM pg_create_logical_replication_slot('s', 'test_decoding');
INSERT INTO em VALUES (1, 'ok', '{sad,happy}'), (2, NULL, NULL);
UPDATE em SET m = 'happy' WHERE id = 1;
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
INSERT INTO em VALUES (3, 'meh', '{meh}');
DELETE FROM em WHERE id = 2;
SELECT data FROM pg_logical_slot_get_changes('s', NULL, NULL);
SELECT pg_drop_replication_slot('s');
CREATE PUBLICATION pub_em FOR TABLE em;
SELECT 'init' FROM pg_create_logical_replication_slot('p', 'pgoutput');
INSERT INTO em VALUES (4, 'sad', '{ok}');
SELECT get_byte(data, 0)::int AS kind, length(data) > 0 AS has_body
  FROM pg_logical_slot_peek_binary_changes('p', NULL, NULL, 'proto_version', '1', 'publication_names', 'pub_em');
SELECT encode(substr(data, 6), 'escape') AS type_message
  FROM pg_logical_slot_peek_binary_changes('p', NULL, NULL, 'proto_version', '1', 'publication_names', 'pub_em')
 WHERE get_byte(data, 0) = 89;
SELECT pg_drop_replication_slot('p');
DROP PUBLICATION pub_em;
DROP TABLE em;
DROP TYPE mood;
