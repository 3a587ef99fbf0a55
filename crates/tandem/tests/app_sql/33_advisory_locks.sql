-- Advisory locks in one session: session-level locks taken twice are held
-- until unlocked twice, a bigint and an int pair are different keys,
-- unlocking what is not held warns, transaction-level locks go at the end
-- of their transaction, pg_advisory_unlock_all releases the rest.
SELECT pg_advisory_lock(1), pg_advisory_lock(1), pg_try_advisory_lock(0, 1), pg_try_advisory_lock_shared(2);
SELECT pg_advisory_unlock(1), pg_advisory_unlock(1), pg_advisory_unlock(1);
SELECT pg_advisory_unlock_shared(1);
SELECT pg_advisory_unlock(2);
SELECT pg_advisory_unlock_shared(2), pg_advisory_unlock(0, 1);
BEGIN;
SELECT pg_advisory_xact_lock(5), pg_try_advisory_xact_lock(6), pg_advisory_xact_lock_shared(7, 8);
SELECT pg_advisory_unlock(5);
COMMIT;
SELECT pg_advisory_unlock(5);
SELECT pg_advisory_lock(9), pg_advisory_lock_shared(10), pg_advisory_unlock_all();
SELECT pg_advisory_unlock(9);
SELECT pg_try_advisory_lock(11::bigint), pg_advisory_unlock(11), pg_typeof(pg_advisory_lock(12)), pg_advisory_unlock(12);
