"""person: transitions as HOT updates (no index on state, 20% of each page free)

Revision ID: f1a9c3e5b7d2
Revises: e8b4f2a6c9d1
Create Date: 2026-11-22 05:10:00

Existing pages keep their fill until rewritten: after upgrading a large database, run
`VACUUM FULL person` in a quiet hour (README, "At national scale").
"""
from alembic import op

revision = "f1a9c3e5b7d2"
down_revision = "e8b4f2a6c9d1"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_person_scope_state", table_name="person")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE person SET (fillfactor = 80)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE person RESET (fillfactor)")
    op.create_index("ix_person_scope_state", "person", ["sub_delegation_id", "state"])
