"""admin_user.session_version: a per-user counter in the login token, so sessions end on the server

Revision ID: 7c1e5a2b9d04
Revises: 49fb9ad17734
Create Date: 2026-11-22 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "7c1e5a2b9d04"
down_revision = "49fb9ad17734"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin_user") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("admin_user") as batch:
        batch.drop_column("session_version")
