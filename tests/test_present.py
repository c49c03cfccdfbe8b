"""Presentation rules need no request: labels in a language, masking by role."""
from models import Organization, OrgState, Person, Role, SubDelegation
from models import present


def test_labels_in_either_language():
    assert present.enum_label(OrgState.RETURNED, "zh") == "退回修改"
    assert present.enum_label(OrgState.RETURNED, "en") == "Returned for edit"
    assert present.field_label(Organization, "uscc", "zh") == "统一社会信用代码"
    assert present.field_label(Person, "sub_delegation", "en") == "Sub-delegation"
    assert present.action_label("organization.returned_for_edit", "zh") == "退回修改"
    assert present.action_label("person.copay_confirmed", "en") == "Confirm co-payment"
    assert present.action_label("person.edited", "zh") == "修改"


def test_every_personal_mobile_and_id_number_is_masked_for_viewers():
    from models import AuditEntry, OrgAddress, OutboxMessage  # noqa: F401
    for model, key in ((Person, "id_number"), (Person, "mobile"), (Organization, "contact_mobile"),
                       (OrgAddress, "mobile"), (OutboxMessage, "recipient"), (SubDelegation, "mobile")):
        column = model.__table__.c[key]
        assert present.masking(column, Role.VIEWER) == present.MASK, (model, key)
        assert present.masking(column, Role.SECRETARIAT) is None
    assert present.shown("13812345678", present.MASK) == "138****5678"


def test_every_constraint_has_a_sentence_in_both_languages_where_the_others_live():
    # The finance tables once added theirs on import; all of them now live in present.CONSTRAINT_MESSAGES.
    enum_checks = present.enum_messages()  # an enum column's CHECK is worded from the column's label
    for name in present.constraint_names():
        assert name in present.CONSTRAINT_MESSAGES or name in enum_checks, name
        zh, en = (present.constraint_message(name, lang) for lang in ("zh", "en"))
        assert zh != present.GENERIC_MESSAGE[0] and en != present.GENERIC_MESSAGE[1], name
    assert present.constraint_message("uq_payment_gateway_reference") == "该交易流水号已记录过"
    assert present.constraint_message("ck_refund_bank_account_details", "en") == (
        "A refund to a bank account needs the payee, account, bank and bank code")
