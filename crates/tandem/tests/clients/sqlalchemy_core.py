"""SQLAlchemy 2 Core over psycopg 3, as an application uses them: create_all
(a foreign key, a UNIQUE column, an index, server defaults, a JSONB column, an
enum type, a table in a schema of its own), inserts, a server-side cursor, a
join, updates, deletes, a unique violation inside a savepoint, reflection of
the tables back. Prints what it sees; the test compares the output against
the same program run on PostgreSQL 17.

Usage: python sqlalchemy_core.py postgresql+psycopg://user@host:port/db
"""
import sys

from sqlalchemy import (Column, Enum, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        create_engine, delete, func, insert, inspect, select, text, update)
from sqlalchemy.schema import CreateSchema, DropSchema
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

engine = create_engine(sys.argv[1])
md = MetaData()
teams = Table(
    "teams", md,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), unique=True, nullable=False),
)
users = Table(
    "users", md,
    Column("id", Integer, primary_key=True),
    Column("email", String(100), unique=True, nullable=False),
    Column("name", Text, server_default=text("'anon'")),
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="SET NULL")),
    Column("prefs", JSONB, server_default=text("'{}'::jsonb")),
    Column("role", Enum("member", "admin", "owner", name="role_kind"), server_default="member"),
    Index("users_team_ix", "team_id"),
)

events = Table(
    "events", md,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE")),
    schema="audit",
)

md.drop_all(engine)
with engine.begin() as c:
    c.execute(DropSchema("audit", if_exists=True))
    c.execute(CreateSchema("audit"))
md.create_all(engine)
with engine.begin() as c:
    c.execute(insert(teams), [{"id": 1, "name": "red"}, {"id": 2, "name": "blue"}])
    c.execute(insert(users), [
        {"id": 1, "email": "a@x", "team_id": 1, "prefs": {"theme": "dark", "n": [1, 2]}},
        {"id": 2, "email": "b@x", "team_id": 2, "prefs": {"theme": "light"}},
        {"id": 3, "email": "c@x", "team_id": 1, "prefs": {}},
    ])
    c.execute(update(users).where(users.c.id == 3).values(name="cid"))
    c.execute(update(users).where(users.c.id == 2).values(role="owner"))
    print("roles:", c.execute(
        select(users.c.email, users.c.role).where(users.c.role > "member")
        .order_by(users.c.role.desc())).all())
    try:
        with c.begin_nested():
            c.execute(insert(users).values(id=4, email="a@x"))
    except IntegrityError as e:
        print("unique violation:", str(e.orig).splitlines()[0])
    rows = c.execute(
        select(users.c.email, users.c.name, teams.c.name.label("team"), users.c.prefs)
        .join(teams, teams.c.id == users.c.team_id)
        .order_by(users.c.id)
    ).all()
    for r in rows:
        print("row:", tuple(r))
    # a server-side cursor (psycopg's named cursor: DECLARE, then FETCHes)
    streamed = c.execute(
        select(users.c.id, users.c.email).where(users.c.id >= 2).order_by(users.c.id.desc()),
        execution_options={"stream_results": True, "max_row_buffer": 2})
    print("streamed:", [tuple(r) for r in streamed])
    print("dark:", c.execute(
        select(users.c.email).where(users.c.prefs["theme"].astext == "dark")).scalars().all())
    print("has n:", c.execute(
        select(users.c.email).where(users.c.prefs.has_key("n"))).scalars().all())
    print("per team:", c.execute(
        select(users.c.team_id, func.count()).group_by(users.c.team_id)
        .order_by(users.c.team_id)).all())
    try:
        with c.begin_nested():
            c.execute(insert(users).values(id=5, email="e@x", team_id=9))
    except IntegrityError as e:
        print("foreign key violation:", str(e.orig).splitlines()[0])
    c.execute(insert(events), [{"kind": "join", "team_id": 1}, {"kind": "leave", "team_id": 2}])
    print("events:", c.execute(
        select(events.c.id, events.c.kind, teams.c.name)
        .join(teams, teams.c.id == events.c.team_id).order_by(events.c.id)).all())
    c.execute(delete(teams).where(teams.c.name == "blue"))
    print("events left:", c.execute(select(events.c.kind)).scalars().all())
    print("orphaned:", c.execute(
        select(users.c.email, users.c.team_id).where(users.c.team_id.is_(None))).all())
    c.execute(delete(users).where(users.c.email == "b@x"))
    print("left:", c.execute(select(func.count()).select_from(users)).scalar())

insp = inspect(engine)
print("tables:", sorted(insp.get_table_names()))
print("enums:", insp.get_enums())
for t in ("teams", "users"):
    for col in insp.get_columns(t):
        print(f"column {t}:", col["name"], col["type"], col["nullable"], col["default"])
    print(f"pk {t}:", insp.get_pk_constraint(t)["constrained_columns"])
    for f in insp.get_foreign_keys(t):
        print(f"fk {t}:", f["name"], f["constrained_columns"], f["referred_table"],
              f["referred_columns"], f["options"])
    for u in insp.get_unique_constraints(t):
        print(f"unique {t}:", u["name"], u["column_names"])
    for i in sorted(insp.get_indexes(t), key=lambda i: i["name"]):
        print(f"index {t}:", i["name"], i["column_names"], i["unique"])
print("schemas:", insp.get_schema_names())
print("audit tables:", insp.get_table_names(schema="audit"))
for col in insp.get_columns("events", schema="audit"):
    print("column audit.events:", col["name"], col["type"], col["nullable"], col["default"])
for f in insp.get_foreign_keys("events", schema="audit"):
    print("fk audit.events:", f["name"], f["constrained_columns"], f["referred_schema"],
          f["referred_table"], f["referred_columns"], f["options"])
reflected = MetaData()
back = Table("users", reflected, autoload_with=engine)
print("reflected:", [c.name for c in back.columns])
print("reflected fks:", sorted(fk.target_fullname for fk in back.foreign_keys))
md.drop_all(engine)
with engine.begin() as c:
    c.execute(DropSchema("audit"))
print("done")
