"""The one helper for chunked IN queries, at its chunk boundaries."""

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
)

from jupyterhub_onboarding.service.store._sql import CHUNK, execute_chunked

numbers = Table("numbers", MetaData(), Column("n", Integer, primary_key=True))


@pytest.fixture
def numbers_db():
    """A table of the numbers 0 to 2 * CHUNK + 1, and the parameters of every statement."""
    engine = create_engine("sqlite://")
    numbers.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(numbers), [{"n": n} for n in range(2 * CHUNK + 2)])
    executed: list = []

    def note(conn, cursor, statement, parameters, context, executemany):
        executed.append(parameters)

    event.listen(engine, "before_cursor_execute", note)
    yield engine, executed
    engine.dispose()


@pytest.mark.parametrize("size", [3, CHUNK])
@pytest.mark.parametrize("extra", [0, 1, -1, "size", "size+1", "2size", "2size+1"])
def test_chunked_in_reads_every_value_once_in_order_and_within_the_chunk_size(
    numbers_db, size, extra
):
    engine, executed = numbers_db
    count = {"size": size, "size+1": size + 1, "2size": 2 * size, "2size+1": 2 * size + 1}.get(
        extra, size - 1 if extra == -1 else extra
    )
    values = list(range(count))[::-1]  # descending: the chunks' order is kept
    with engine.connect() as conn:
        rows = execute_chunked(
            conn,
            values,
            lambda chunk: (
                select(numbers.c.n).where(numbers.c.n.in_(chunk)).order_by(numbers.c.n.desc())
            ),
            size=size,
        )
    assert [row.n for row in rows] == values
    assert len(executed) == -(-count // size)  # one statement per chunk, none for no values
    assert all(0 < len(parameters) <= size for parameters in executed)


def test_chunked_in_runs_statements_that_return_no_rows(numbers_db):
    engine, executed = numbers_db
    doomed = list(range(0, 2 * CHUNK + 2, 2))  # CHUNK + 1 values: two statements
    with engine.begin() as conn:
        rows = execute_chunked(conn, doomed, lambda c: delete(numbers).where(numbers.c.n.in_(c)))
        assert rows == [] and len(executed) == 2
        left = conn.execute(select(numbers.c.n).order_by(numbers.c.n)).scalars().all()
    assert left == list(range(1, 2 * CHUNK + 2, 2))


def test_chunked_in_refuses_an_empty_chunk_size(numbers_db):
    engine, _executed = numbers_db
    with engine.connect() as conn, pytest.raises(ValueError, match="size"):
        execute_chunked(conn, [1], lambda c: select(numbers.c.n).where(numbers.c.n.in_(c)), 0)
