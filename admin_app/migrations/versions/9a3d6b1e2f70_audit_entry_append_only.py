"""audit_entry is append-only: a trigger refuses UPDATE and DELETE (PostgreSQL and SQLite)

Revision ID: 9a3d6b1e2f70
Revises: 7c1e5a2b9d04
Create Date: 2026-11-22 02:10:00
"""
from alembic import op

from models.audit.tables import (POSTGRESQL_APPEND_ONLY, POSTGRESQL_DROP_APPEND_ONLY, SQLITE_APPEND_ONLY,
                                 SQLITE_DROP_APPEND_ONLY)

revision = "9a3d6b1e2f70"
down_revision = "7c1e5a2b9d04"
branch_labels = None
depends_on = None


def _statements(postgresql, sqlite):
    return postgresql if op.get_bind().dialect.name == "postgresql" else sqlite


def upgrade():
    for statement in _statements(POSTGRESQL_APPEND_ONLY, SQLITE_APPEND_ONLY):
        op.execute(statement)


def downgrade():
    for statement in _statements(POSTGRESQL_DROP_APPEND_ONLY, SQLITE_DROP_APPEND_ONLY):
        op.execute(statement)
