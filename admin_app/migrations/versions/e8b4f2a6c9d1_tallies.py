"""person_tally and organization_tally: counts per sub-delegation and state, kept by triggers

Revision ID: e8b4f2a6c9d1
Revises: c6d2e8f1a4b7
Create Date: 2026-11-22 04:50:00
"""
import sqlalchemy as sa
from alembic import op

from models.registration.tallies import BACKFILL, POSTGRESQL, POSTGRESQL_DROP, SQLITE, SQLITE_DROP

revision = "e8b4f2a6c9d1"
down_revision = "c6d2e8f1a4b7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "person_tally",
        sa.Column("sub_delegation_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("label", sa.String(20), nullable=False),
        sa.Column("copay", sa.String(20), nullable=False),
        sa.Column("org_deleted", sa.Boolean(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("copay_amount", sa.Numeric(16, 2), nullable=False),
        sa.PrimaryKeyConstraint("sub_delegation_id", "state", "label", "copay", "org_deleted",
                                name="pk_person_tally"))
    op.create_table(
        "organization_tally",
        sa.Column("sub_delegation_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sub_delegation_id", "state", "deleted", name="pk_organization_tally"))
    for statement in BACKFILL:
        op.execute(statement)
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    for statement in POSTGRESQL_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(statement)
    op.drop_table("organization_tally")
    op.drop_table("person_tally")
