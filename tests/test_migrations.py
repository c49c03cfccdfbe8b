"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine

import models
from admin_app import create_app
from factories import admin_database_url, create_scratch_database, drop_scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    url = create_scratch_database(admin_database_url(), prefix="dd_migrate")
    try:
        yield url
    finally:
        drop_scratch_database(url, admin_database_url())


def test_upgrade_builds_the_schema_of_the_models(empty_database, tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database, "SECRET_KEY": "x",
                      "REPORTS_DIR": str(tmp_path)})
    with app.app_context():
        upgrade()
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, models.Base.metadata) == []
    finally:
        engine.dispose()
