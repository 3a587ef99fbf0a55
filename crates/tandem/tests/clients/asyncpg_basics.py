"""asyncpg basics, as an application uses them: a pool, DDL, executemany with
typed parameters (binary protocol both ways), fetch/fetchrow/fetchval,
prepared statements, a transaction rolled back, a unique violation caught as
its exception class, LISTEN/NOTIFY between two connections, the session
time zone, and an enum type (asyncpg looks it up in pg_type to send and read
its values in binary). Prints what it sees; the test compares the output against the
same program run on PostgreSQL 17.

Usage: python asyncpg_basics.py postgresql[+psycopg]://user@host:port/db
"""
import asyncio
import datetime
import decimal
import sys

import asyncpg

URL = sys.argv[1].replace("+psycopg", "")


async def main():
    pool = await asyncpg.create_pool(URL, min_size=2, max_size=2)
    async with pool.acquire() as c:
        await c.execute("DROP TABLE IF EXISTS items")
        await c.execute(
            """CREATE TABLE items (
                 id int PRIMARY KEY,
                 name text NOT NULL UNIQUE,
                 price numeric(10, 2),
                 ok bool,
                 tags text[],
                 at timestamptz,
                 open_at time,
                 meta jsonb)"""
        )
        utc = datetime.timezone.utc
        rows = [
            (1, "apple", decimal.Decimal("1.50"), True, ["fruit", "red"],
             datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc), datetime.time(8, 30), '{"a": 1}'),
            (2, "bread", decimal.Decimal("2.25"), False, [],
             datetime.datetime(2024, 6, 1, 12, 0, tzinfo=utc), datetime.time(23, 59, 59, 500000), None),
            (3, "cheese", None, None, None, None, None, '[1, "x", null]'),
        ]
        await c.executemany(
            "INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows
        )
        for r in await c.fetch("SELECT * FROM items ORDER BY id"):
            print(dict(r))
        print("count", await c.fetchval("SELECT count(*) FROM items"))
        r = await c.fetchrow("SELECT name, price * 2 AS double FROM items WHERE id = $1", 1)
        print("fetchrow", r["name"], r["double"])

        stmt = await c.prepare("SELECT name FROM items WHERE price > $1 ORDER BY name")
        print("prepared", [x["name"] for x in await stmt.fetch(decimal.Decimal("1"))])
        print("param types", [t.name for t in stmt.get_parameters()])
        print("columns", [(a.name, a.type.name) for a in stmt.get_attributes()])

        try:
            async with c.transaction():
                await c.execute("UPDATE items SET price = 0")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        print("after rollback", await c.fetchval("SELECT sum(price) FROM items"))

        try:
            await c.execute("INSERT INTO items (id, name) VALUES (4, 'apple')")
        except asyncpg.UniqueViolationError as e:
            print("unique violation", e.sqlstate, e.constraint_name)

        await c.execute("SET TimeZone = 'America/New_York'")
        print("text in New York", await c.fetchval("SELECT at::text FROM items WHERE id = 1"))
        print("value", await c.fetchval("SELECT at FROM items WHERE id = 1"))

    # LISTEN on one connection, NOTIFY from another
    listener = await asyncpg.connect(URL)
    got = asyncio.Queue()
    await listener.add_listener("jobs", lambda conn, pid, channel, payload: got.put_nowait((channel, payload)))
    async with pool.acquire() as c:
        await c.execute("NOTIFY jobs, 'first'")
        await c.execute("SELECT pg_notify('jobs', 'second')")
    for _ in range(2):
        print("notification", await asyncio.wait_for(got.get(), 30))
    await listener.close()

    async with pool.acquire() as c:
        await c.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); "
                        "CREATE TABLE moods (id int PRIMARY KEY, m mood, ms mood[])")
        await c.executemany("INSERT INTO moods VALUES ($1, $2, $3)",
                            [(1, "happy", ["sad", "ok"]), (2, "sad", None), (3, "ok", [])])
        print("by mood", await c.fetch("SELECT * FROM moods ORDER BY m"))
        print("range", await c.fetchval("SELECT enum_range(NULL::mood)"))
        print("above sad", await c.fetchval("SELECT count(*) FROM moods WHERE m > $1", "sad"))
        await c.execute("DROP TABLE moods; DROP TYPE mood")

    async with pool.acquire() as c:
        await c.execute("DROP TABLE items")
    await pool.close()


asyncio.run(main())
