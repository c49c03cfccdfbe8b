"""background_job: jobs run on RQ or inline, with progress and a result file; outbox_message.next_attempt_at
for retries with backoff

Revision ID: c6d2e8f1a4b7
Revises: a7e5c3d1b9f2
Create Date: 2026-11-22 05:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "c6d2e8f1a4b7"
down_revision = "a7e5c3d1b9f2"
branch_labels = None
depends_on = None

JOB_STATE = sa.Enum("queued", "running", "done", "failed", name="job_state", native_enum=False,
                    create_constraint=True, length=32)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade():
    op.create_table(
        "background_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("func_path", sa.String(length=200), nullable=False),
        sa.Column("params", JSON, nullable=True),
        sa.Column("state", JOB_STATE, nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("result_file", sa.String(length=200), nullable=True),
        sa.Column("result_name", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["admin_user.id"], name="fk_background_job_owner_id_admin_user"),
        sa.PrimaryKeyConstraint("id", name="pk_background_job"),
    )
    op.create_index("ix_background_job_owner", "background_job", ["owner_id", "id"])
    op.create_index("ix_background_job_state", "background_job", ["state", "id"])
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("next_attempt_at")
    op.drop_index("ix_background_job_state", table_name="background_job")
    op.drop_index("ix_background_job_owner", table_name="background_job")
    op.drop_table("background_job")
