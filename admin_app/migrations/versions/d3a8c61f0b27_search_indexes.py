"""Search indexes: organisation names by any part (pg_trgm), codes and mobiles by a leading part, ID numbers
case-insensitively

PostgreSQL: a GIN trigram index on organization.name; text_pattern_ops for uscc, contact and person mobiles
(LIKE 'x%' uses them whatever the collation); an expression index on upper(person.id_number).
SQLite: the same names as plain indexes (it searches prefixes by range and scans organisation names).

Revision ID: d3a8c61f0b27
Revises: b51f0c7d3e88
Create Date: 2026-11-22 03:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "d3a8c61f0b27"
down_revision = "b51f0c7d3e88"
branch_labels = None
depends_on = None

# (index, table, column) whose PostgreSQL index becomes text_pattern_ops; SQLite's stays as it is.
PATTERN_INDEXES = (("ix_organization_uscc", "organization", "uscc"),
                   ("ix_organization_contact_mobile", "organization", "contact_mobile"),
                   ("ix_person_mobile", "person", "mobile"))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if _postgresql():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in PATTERN_INDEXES:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column], postgresql_ops={column: "text_pattern_ops"})
    op.drop_index("ix_organization_name_prefix", table_name="organization")
    op.create_index("ix_organization_name_search", "organization", ["name"], postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})
    op.drop_index("ix_person_id_number", table_name="person")
    op.create_index("ix_person_id_number_upper", "person", [sa.text("upper(id_number)")])


def downgrade():
    op.drop_index("ix_person_id_number_upper", table_name="person")
    op.create_index("ix_person_id_number", "person", ["id_number"])
    op.drop_index("ix_organization_name_search", table_name="organization")
    op.create_index("ix_organization_name_prefix", "organization", ["name"],
                    postgresql_ops={"name": "text_pattern_ops"})
    if _postgresql():
        for name, table, column in PATTERN_INDEXES:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column])
    # pg_trgm stays installed: other objects of the database may use it.
