-- LISTEN / NOTIFY / pg_notify in one session: psql prints each notification
-- after the command that completes its transaction (the PID is masked).
LISTEN jobs;
NOTIFY jobs, 'hello';
SELECT pg_notify('jobs', 'from a function');
SELECT pg_listening_channels();
-- once per (channel, payload) per transaction, in order, at commit
BEGIN;
NOTIFY jobs, 'a';
NOTIFY jobs, 'a';
NOTIFY jobs;
SELECT pg_notify('jobs', 'b');
SELECT 1 AS inside;
COMMIT;
-- an aborted transaction and a rolled-back savepoint send nothing
BEGIN;
NOTIFY jobs, 'rolled back';
ROLLBACK;
BEGIN;
SAVEPOINT s;
NOTIFY jobs, 'undone';
ROLLBACK TO s;
NOTIFY jobs, 'kept';
COMMIT;
-- LISTEN takes effect at commit
BEGIN;
LISTEN later;
SELECT pg_listening_channels() ORDER BY 1;
NOTIFY later, 'same transaction';
COMMIT;
SELECT pg_listening_channels() ORDER BY 1;
BEGIN;
LISTEN never;
ROLLBACK;
SELECT pg_listening_channels() ORDER BY 1;
-- channel names are identifiers
NOTIFY "Jobs", 'quoted, not listened';
LISTEN "Jobs";
NOTIFY "Jobs", 'quoted';
NOTIFY JOBS, 'folded';
-- bad input
SELECT pg_notify('', 'x');
SELECT pg_notify(NULL, 'x');
SELECT pg_notify('jobs', NULL);
SELECT pg_notify(repeat('c', 64), 'x');
SELECT pg_notify(repeat('c', 63), 'x');
SELECT pg_notify('jobs', repeat('p', 8000));
SELECT length(repeat('p', 7999)) AS longest_payload, pg_notify('nobody', repeat('p', 7999));
NOTIFY;
LISTEN;
-- UNLISTEN
UNLISTEN jobs;
UNLISTEN not_listening;
SELECT pg_listening_channels() ORDER BY 1;
NOTIFY jobs, 'not heard';
UNLISTEN *;
SELECT pg_listening_channels();
SELECT pg_notification_queue_usage();
LISTEN jobs;
DISCARD ALL;
SELECT pg_listening_channels();
