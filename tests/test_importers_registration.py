"""Batch registration (批量注册): organisations and persons in one transaction, every row validated, all or nothing."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from factories import audit_entries, make_organization, make_person, make_uscc
from importer_files import csv_bytes, org_row, person_row, registration_book, resident_id
from models import AuditEntry, Label, Organization, OrgState, Person, PersonState, QuotaAllocation
from test_importers import imported, kinds, table_counts


def texts(result, lang="zh") -> list[str]:
    return [p.text(lang) for p in result.problems]


def test_a_valid_workbook_registers_organisations_and_persons_audited(session, world):
    gz = world.subs["GZ"]
    u1, u2 = make_uscc(), make_uscc()
    data = registration_book(
        [org_row("甲贸易有限公司", u1, gz.name), org_row("乙食品有限公司", u2, "GZ", 单位类别="事业单位")],
        [person_row(u1, 1, 出生日期="1990-01-01", 性别="男", 入场日期="2025-11-05、11-06"),
         person_row(u2, 2, 证件类型="护照", 证件号码="e1234567", 人员类型="其他国家/地区", 性别="女", 出生日期="1985-05-05"),
         person_row(u2, 3, 证件类型="港澳居民来往内地通行证", 证件号码="H12345678", 性别="男", 邮箱="a@b.cn")])
    result = imported(session, "registration", data, world.admins["GZ"])
    assert result.ok, texts(result)
    assert dict((label[0], n) for label, n in result.counts) == {"注册单位": 2, "登记人员": 3}
    orgs = {o.uscc: o for o in session.scalars(select(Organization))}
    assert orgs[u1].state is OrgState.DRAFT and orgs[u2].category.value == "public_institution"
    persons = session.scalars(select(Person).order_by(Person.id)).all()
    assert [p.state for p in persons] == [PersonState.SAVED] * 3
    first = persons[0]
    assert (first.gender.value, first.birth_date, first.entry_days) == ("male", date(1990, 1, 1),
                                                                       "2025-11-05,2025-11-06")
    assert first.organization_id == orgs[u1].id and first.sub_delegation_id == gz.id
    assert persons[1].id_number == "E1234567" and persons[1].birth_date == date(1985, 5, 5)
    entries = audit_entries(session, "person", action="person.created")
    assert len(entries) == 3 and all(e.actor_id == world.admins["GZ"].id for e in entries)
    assert entries[0].params["id_number"].startswith("110") and "*" in entries[0].params["id_number"]
    assert entries[0].params["name"] == "人员1" and entries[0].sub_delegation_id == gz.id
    assert len(audit_entries(session, "organization", action="organization.created")) == 2


def test_persons_may_join_an_organisation_registered_before(session, world):
    org = make_organization(session, world.subs["GZ"], state=OrgState.APPROVED)
    result = imported(session, "registration", registration_book([], [person_row(org.uscc, 5)]), world.admins["GZ"])
    assert result.ok, texts(result)
    assert session.scalar(select(Person.organization_id)) == org.id


def test_vip_labels_within_the_quota_preallocated_to_the_uscc(session, world):
    uscc = make_uscc()
    session.add(QuotaAllocation(edition_id=world.edition.id, sub_delegation_id=world.subs["GZ"].id, uscc=uscc,
                                vip_quota=1, staff_quota=1))
    book = lambda *labels: registration_book([org_row("甲", uscc, "GZ")],  # noqa: E731
                                             [person_row(uscc, n, 人员标签=label) for n, label in enumerate(labels)])
    over = imported(session, "registration", book("VIP", "VIP", "工作人员"), world.admins["GZ"])
    assert kinds(over) == {"quota": 1} and "单位VIP额度已用完（1/1）" in texts(over)[0] and over.problems[0].row == 2
    result = imported(session, "registration", book("VIP", "工作人员", "专业观众"), world.admins["GZ"])
    assert result.ok, texts(result)
    org = session.scalar(select(Organization))
    assert (org.vip_quota, org.staff_quota) == (1, 1)
    assert sorted(p.label for p in session.scalars(select(Person))) == sorted([Label.VIP, Label.STAFF,
                                                                               Label.PROFESSIONAL])


def test_cells_are_validated_and_a_bad_file_changes_nothing(session, world):
    make_organization(session, world.subs["GZ"])
    before = table_counts(session)
    good, second = make_uscc(), make_uscc()
    bad_uscc = good[:-1] + ("0" if good[-1] != "0" else "1")
    bad_id = resident_id(3)[:-1] + ("0" if resident_id(3)[-1] != "0" else "1")
    data = registration_book(
        [org_row("甲", good, "GZ"), org_row("乙", bad_uscc, "GZ"), org_row("丙", good, "GZ"),
         org_row("丁", second, "GZ", 单位类别="外星企业", 联系人手机="12345", 联系人邮箱="not-an-email", 采购意向="")],
        [person_row(good, 1, 出生日期="1991-01-01"), person_row(good, 2, 证件号码=bad_id),
         person_row(good, 3, 性别="女"), person_row(good, 1), person_row(good, 4, 证件类型="护照", 证件号码="长#"),
         person_row(good, 5, 入场日期="2025-12-01"), person_row(good, 6, 出生日期="45000"),
         person_row(make_uscc(), 7), person_row(good, 8, 姓名="", 人员标签="贵宾"), person_row(good, 11),
         person_row(good, 11, 姓名="同证件")])
    result = imported(session, "registration", data, world.admins["GZ"])
    found = kinds(result)
    assert found == {"excel_serial": 1, "required": 2, "invalid": 10, "duplicate_file": 2, "not_found": 1}, texts(result)
    joined = " ".join(texts(result))
    for words in ("统一社会信用代码校验位错误", "统一社会信用代码与第 2 行重复", "取值无效：外星企业", "手机号码格式错误", "邮箱格式不正确",
                  "居民身份证号码校验位错误", "与身份证号码中的出生日期 1990-01-01 不符", "「性别」与身份证号码不符",
                  "护照号码格式错误", "不是本届的入场日期", "证件号码与第 11 行重复", "Excel 日期序号 45000", "既不在「单位」表中"):
        assert words in joined, words
    assert "USCC" in " ".join(texts(result, "en"))
    assert table_counts(session) == before


def test_duplicates_against_the_database_and_rows_outside_the_admins_scope(session, world):
    registered = make_organization(session, world.subs["GZ"])
    taken = make_person(session, registered, id_type="resident_id", id_number=resident_id(9))
    other = make_organization(session, world.subs["SZ"])
    fresh = make_uscc()
    before = table_counts(session)
    data = registration_book([org_row("已注册", registered.uscc, "GZ"), org_row("新单位", fresh, world.subs["SZ"].name)],
                             [person_row(registered.uscc, 9), person_row(other.uscc, 10)])
    result = imported(session, "registration", data, world.admins["GZ"])
    assert kinds(result) == {"scope": 1, "not_found": 1, "duplicate_db": 1}, texts(result)
    assert "已在本届注册" in " ".join(texts(result))
    assert table_counts(session) == before
    # The person already registered is refused by the domain once the organisations pass.
    again = imported(session, "registration", registration_book([], [person_row(registered.uscc, 9)]),
                     world.admins["GZ"])
    assert kinds(again) == {"duplicate_db": 1} and "该证件已在本届登记" in texts(again)[0]
    assert taken.id and table_counts(session) == before


def test_the_secretariat_names_any_sub_delegation_and_csv_is_refused(session, world):
    uscc = make_uscc()
    data = registration_book([org_row("甲", uscc, world.subs["SZ"].code)], [person_row(uscc, 1)])
    assert imported(session, "registration", data, world.secretariat).ok
    assert session.scalar(select(Organization.sub_delegation_id)) == world.subs["SZ"].id
    refused = imported(session, "registration", csv_bytes([["单位名称"], ["x"]]), world.secretariat, filename="r.csv")
    assert kinds(refused) == {"sheet": 1} and "CSV" in texts(refused)[0]


def test_registration_dry_run_checks_the_database_rules_and_writes_nothing(session, world):
    uscc = make_uscc()
    before = table_counts(session)
    data = registration_book([org_row("甲", uscc, "GZ")], [person_row(uscc, 1, 人员标签="VIP")])
    result = imported(session, "registration", data, world.admins["GZ"], dry_run=True)
    assert kinds(result) == {"quota": 1}  # the organisation's VIP quota is 0
    fine = imported(session, "registration", registration_book([org_row("甲", uscc, "GZ")], [person_row(uscc, 1)]),
                    world.admins["GZ"], dry_run=True)
    assert fine.ok and not fine.written
    assert table_counts(session) == before
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before["audit_entry"]


def test_persons_of_a_deleted_organisation_are_refused(session, world):
    deleted = make_organization(session, world.subs["GZ"], deleted=True)
    result = imported(session, "registration", registration_book([], [person_row(deleted.uscc, 1)]), world.secretariat)
    assert kinds(result) == {"not_found": 1}


def test_the_templates_unchanged_sample_row_is_skipped_and_mobiles_may_be_number_cells(session, world):
    """A template filled in below its sample row registers the rows typed, not 广州示例贸易有限公司 too; an
    11-digit mobile that Excel kept as a number lost nothing and is taken (an ID number as a number is not)."""
    from importers import IMPORTERS
    from importers.templates import template
    import openpyxl
    import io

    book = openpyxl.load_workbook(io.BytesIO(template(IMPORTERS["registration"])))
    u1 = make_uscc()
    book["单位"].append(org_row("丙科技有限公司", u1, "GZ"))
    book["人员"].append(person_row(u1, 4))
    book["人员"].cell(row=book["人员"].max_row, column=8).value = 13912345678  # 手机 as a number cell
    out = io.BytesIO()
    book.save(out)
    result = imported(session, "registration", out.getvalue(), world.admins["GZ"])
    assert result.ok, texts(result)
    assert [o.name for o in session.scalars(select(Organization))] == ["丙科技有限公司"]
    assert session.scalars(select(Person.mobile)).all() == ["13912345678"]


def test_the_audit_entries_of_a_batch_mask_numbers_as_the_pages_do(session, world):
    """The database masks the batch's audit parameters by the same rule as models.present.mask, for every length."""
    from models.present import mask

    u1 = make_uscc()
    numbers = {resident_id(3): "居民身份证", "E1234567": "护照", "H0123456789": "港澳居民来往内地通行证"}
    rows = [person_row(u1, i, 证件类型=kind, 证件号码=number, 人员类型="中国大陆地区" if kind == "居民身份证" else
                       ("港澳台地区" if kind.startswith("港澳") else "其他国家/地区"), 出生日期="1990-01-01", 性别="男")
            for i, (number, kind) in enumerate(numbers.items(), 1)]
    result = imported(session, "registration", registration_book([org_row("丁公司", u1, "GZ")], rows),
                      world.admins["GZ"])
    assert result.ok, texts(result)
    entries = audit_entries(session, "person", action="person.created")
    shown = {e.params["id_number"] for e in entries}
    assert shown == {mask(n) for n in numbers}
