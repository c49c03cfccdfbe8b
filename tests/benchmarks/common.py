"""What the benchmark scripts share: the scratch database each run works on, and the statement-count verdict.

Imported by the scripts as `from common import ...` (run as `python tests/benchmarks/bench_X.py`, their own
folder is on sys.path); they put the project and tests/ on sys.path before importing this.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager

import models
from factories import create_scratch_database, drop_scratch_database, make_engine

DATABASES = ("sqlite", "postgresql", "both")


def databases(choice: str) -> tuple[str, ...]:
    """The databases a --db choice names: both, or the one."""
    return ("sqlite", "postgresql") if choice == "both" else (choice,)


@contextmanager
def scratch_engine(db: str):
    """An engine on an empty schema: a temporary SQLite file, or a scratch database on TEST_DATABASE_URL's
    PostgreSQL server; disposed of, and the scratch database dropped, at the end."""
    scratch = None
    if db == "sqlite":
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.sqlite"
    else:
        url = scratch = create_scratch_database(prefix="dd_bench")
    engine = make_engine(url)
    try:
        models.Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        if scratch:
            drop_scratch_database(scratch)


def statement_growth(label: str, counts: dict) -> bool:
    """Print whether the statement count (by row count) grows with the rows; True where it does not."""
    flat = len(set(counts.values())) == 1
    print(f"{label}: statement count {'does not grow' if flat else 'GROWS'} with rows: {counts}")
    return flat
