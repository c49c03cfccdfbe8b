"""dd_count_estimate(query): the planner's row estimate, for list counts at a million rows (PostgreSQL only)

Revision ID: a7e5c3d1b9f2
Revises: f4c2a9e71d35
Create Date: 2026-11-22 04:40:00
"""
from alembic import op

from models.planner import CREATE_COUNT_ESTIMATE, DROP_COUNT_ESTIMATE

revision = "a7e5c3d1b9f2"
down_revision = "f4c2a9e71d35"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE_COUNT_ESTIMATE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_COUNT_ESTIMATE)
