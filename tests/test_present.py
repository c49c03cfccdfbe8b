"""Presentation rules need no request: labels in a language, masking by role."""
import pytest

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


def test_every_audit_action_and_state_of_every_workflow_reads_as_words_in_both_languages():
    import re

    from models.workflows import ALL_WORKFLOWS

    chinese = re.compile(r"[\u4e00-\u9fff]")
    for action in present.audit_actions():
        zh, en = present.action_label(action, "zh"), present.action_label(action, "en")
        assert chinese.search(zh) and en != action and not chinese.search(en), action
    for action in ("person.paid", "person.copay_returned", "payment.recorded", "payment.submitted", "order.paid",
                   "invoice.requested", "refund.requested", "refund.refunded", "order.created"):
        assert action in present.audit_actions(), action
    assert present.action_label("person.paid") == "订单已支付"
    for workflow in ALL_WORKFLOWS:
        for state in workflow.states:
            zh = present.state_label(workflow.object_type, state.value, "zh")
            en = present.state_label(workflow.object_type, state.value, "en")
            assert chinese.search(zh) and en != state.value, (workflow.object_type, state)


def test_finance_entries_parameters_in_words():
    entries = [("payment", "payment.submitted", {"amount": "200.00", "voucher": "voucher/" + "ab" * 16 + ".png",
                                                 "payer_kind": "organization", "payer_name": "某公司"}),
               ("payment", "payment.recorded", {"order": "V20251001100000123456001", "method": "qr_wechat",
                                                "amount": "200.00", "reference": "WX1"}),
               ("person", "person.copay_returned", {"reason": "背审未通过", "copay_returned": "200.00"}),
               ("refund", "refund.requested", {"method": "bank_account", "reason": "注销"}),
               ("invoice", "invoice.requested", {"kind": "electronic_normal", "title": "某公司", "amount": "200.00"}),
               ("order", "order.expired", {"as_of": "2025-10-13"})]
    for object_type, action, params in entries:
        zh = present.describe_params(object_type, action, params, "zh")
        en = present.describe_params(object_type, action, params, "en")
        for line in zh + en:  # every parameter named in words, never by its key
            assert line.split("：")[0].split(": ")[0] not in params, (action, line)
    assert present.describe_params("payment", "payment.recorded", {"method": "qr_wechat"}, "zh") == [
        "支付方式：扫码支付（微信）"]


@pytest.mark.parametrize("value, shown", [
    ("440103199001011234", "440***********1234"),  # resident ID: 3 + 4, as China shows them
    ("13800138000", "138****8000"),                # mobile
    ("E12345678", "E******78"),                    # passport: at most half shows
    ("01234567", "0*****67"),                      # Taiwan permit: 3 of 8
    ("0012345", "*******"),                        # 7 or fewer: nothing
    ("", ""), (None, ""),
])
def test_mask_shows_no_more_than_a_viewer_needs(value, shown):
    from models.present import mask

    assert mask(value) == shown
