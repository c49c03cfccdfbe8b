"""admin_user.mobile and admin_user.email: bound by each user on their account page

Revision ID: b51f0c7d3e88
Revises: 9a3d6b1e2f70
Create Date: 2026-11-22 02:15:00
"""
from alembic import op
import sqlalchemy as sa

revision = "b51f0c7d3e88"
down_revision = "9a3d6b1e2f70"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin_user") as batch:
        batch.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table("admin_user") as batch:
        batch.drop_column("email")
        batch.drop_column("mobile")
