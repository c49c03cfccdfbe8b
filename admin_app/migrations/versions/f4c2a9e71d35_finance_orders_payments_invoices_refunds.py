"""Finance (issue 9): open order lines, payment states and vouchers, the seeds' invoice fields, refund review

order_line.is_open with a partial unique index (a person on at most one open order); payment.state, the
voucher and the remitter's details on the payment (no longer on the order), gateway references unique per
method, one voucher under review and one settling payment per order; invoice fields of the seeds' forms and a
unique invoice number; refunds to a bank account need all four details.

Existing rows: lines of cancelled or expired orders are closed; payments that existed were money received
(transfers verified, gateway payments recorded, a gateway payment without reference gets "legacy-<id>").

Revision ID: f4c2a9e71d35
Revises: d3a8c61f0b27
Create Date: 2026-11-22 04:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "f4c2a9e71d35"
down_revision = "d3a8c61f0b27"
branch_labels = None
depends_on = None

GATEWAY = "method <> 'transfer'"
SETTLED = "state IN ('verified', 'recorded')"
BANK_DETAILS = ("method <> 'bank_account' OR (payee_name IS NOT NULL AND bank_account IS NOT NULL "
                "AND bank_name IS NOT NULL AND bank_code IS NOT NULL)")
OLD_BANK_DETAILS = "method <> 'bank_account' OR (payee_name IS NOT NULL AND bank_account IS NOT NULL)"
PAYMENT_STATE = sa.Enum("submitted", "verified", "rejected", "recorded", name="payment_state", native_enum=False,
                        create_constraint=True, length=32)


def party_kind():
    return sa.Enum("organization", "individual", name="party_kind", native_enum=False, create_constraint=True,
                   length=32)


def _partial(sql: str) -> dict:
    return {"sqlite_where": sa.text(sql), "postgresql_where": sa.text(sql)}


def upgrade():
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a rebuild: four tables reference badge_order, and SQLite's
    # foreign keys refuse to drop the old copy of a referenced table that has rows.
    with op.batch_alter_table("badge_order", recreate="never") as batch:
        batch.drop_column("voucher_note")
        batch.drop_column("voucher_file")

    with op.batch_alter_table("order_line") as batch:
        batch.add_column(sa.Column("is_open", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute("UPDATE order_line SET is_open = false WHERE order_id IN "
               "(SELECT id FROM badge_order WHERE state IN ('cancelled', 'expired'))")
    op.create_index("uq_order_line_one_open_per_person", "order_line", ["person_id"], unique=True,
                    **_partial("is_open"))

    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("state", PAYMENT_STATE, nullable=True))
        batch.add_column(sa.Column("voucher_file", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("payer_kind", party_kind(), nullable=True))
        batch.add_column(sa.Column("payer_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("payer_bank", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("payer_account", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("payer_phone", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE payment SET state = CASE WHEN method = 'transfer' THEN 'verified' ELSE 'recorded' END")
    op.execute("UPDATE payment SET reference = 'legacy-' || CAST(id AS VARCHAR) "
               "WHERE method <> 'transfer' AND reference IS NULL")
    with op.batch_alter_table("payment") as batch:
        batch.alter_column("state", existing_type=PAYMENT_STATE, nullable=False)
        batch.create_check_constraint("gateway_has_reference", "method = 'transfer' OR reference IS NOT NULL")
        batch.create_check_constraint(
            "recorded_means_gateway",
            "(method = 'transfer' AND state <> 'recorded') OR (method <> 'transfer' AND state = 'recorded')")
    op.create_index("uq_payment_gateway_reference", "payment", ["method", "reference"], unique=True,
                    **_partial(GATEWAY))
    op.create_index("uq_payment_one_submitted_per_order", "payment", ["order_id"], unique=True,
                    **_partial("state = 'submitted'"))
    op.create_index("uq_payment_one_settled_per_order", "payment", ["order_id"], unique=True, **_partial(SETTLED))

    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("title_kind", party_kind(), server_default="organization", nullable=False))
        batch.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("address", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("bank_name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("bank_account", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("courier_company", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("courier_number", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("invoice") as batch:
        # The default only filled the rows there were; the application always says which kind of title.
        batch.alter_column("title_kind", existing_type=party_kind(), server_default=None)
    op.create_index("uq_invoice_number", "invoice", ["number"], unique=True)

    with op.batch_alter_table("refund") as batch:
        batch.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch.drop_constraint(op.f("ck_refund_bank_account_details"), type_="check")
        batch.create_check_constraint("bank_account_details", BANK_DETAILS)


def downgrade():
    with op.batch_alter_table("refund") as batch:
        batch.drop_constraint(op.f("ck_refund_bank_account_details"), type_="check")
        batch.create_check_constraint("bank_account_details", OLD_BANK_DETAILS)
        batch.drop_column("review_note")

    op.drop_index("uq_invoice_number", table_name="invoice")
    with op.batch_alter_table("invoice") as batch:
        # SQLite rebuilds the table with the reflected CHECKs: the enum's must go before its column.
        batch.drop_constraint(op.f("ck_invoice_party_kind"), type_="check")
        for column in ("voided_at", "void_reason", "courier_number", "courier_company", "note", "bank_account",
                       "bank_name", "phone", "address", "email", "mobile", "title_kind"):
            batch.drop_column(column)

    for name in ("uq_payment_one_settled_per_order", "uq_payment_one_submitted_per_order",
                 "uq_payment_gateway_reference"):
        op.drop_index(name, table_name="payment")
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint(op.f("ck_payment_recorded_means_gateway"), type_="check")
        batch.drop_constraint(op.f("ck_payment_gateway_has_reference"), type_="check")
        batch.drop_constraint(op.f("ck_payment_party_kind"), type_="check")
        batch.drop_constraint(op.f("ck_payment_payment_state"), type_="check")
        for column in ("verified_at", "review_note", "payer_phone", "payer_account", "payer_bank", "payer_name",
                       "payer_kind", "voucher_file", "state"):
            batch.drop_column(column)

    op.drop_index("uq_order_line_one_open_per_person", table_name="order_line")
    with op.batch_alter_table("order_line") as batch:
        batch.drop_column("is_open")

    with op.batch_alter_table("badge_order") as batch:
        batch.add_column(sa.Column("voucher_file", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("voucher_note", sa.Text(), nullable=True))
