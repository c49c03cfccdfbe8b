"""Unit tests of models.validation: no database."""
from datetime import date

import pytest
from stdnum.cn import ric, uscc

from models.enums import Gender, IdType
from models.errors import InvalidParameter
from models.validation import (IdDocument, check_resident_id, validate_hk_macao_permit, validate_id_document,
                               validate_mobile, validate_passport, validate_resident_id, validate_taiwan_permit,
                               validate_uscc)

VALID_USCC = "91110000600037341L"


def resident_id(body17: str) -> str:
    """A resident ID with the right check digit."""
    return body17 + ric.calc_check_digit(body17 + "0")


def wrong_check(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def refusal(func, *args, **kw) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        func(*args, **kw)
    return info.value


# -- USCC ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [VALID_USCC, "91110000600037341l", " 9111 0000 6000 37341L ", "911100006000-37341L",
                                 "９１１１００００６０００３７３４１Ｌ"])
def test_uscc_is_normalised(raw):
    assert validate_uscc(raw) == VALID_USCC


def test_uscc_check_digit():
    error = refusal(validate_uscc, VALID_USCC[:-1] + "M")
    assert error.message == "统一社会信用代码校验位错误"
    assert error.field == "uscc"


@pytest.mark.parametrize("raw, words", [("9111000060003734", "应为18位"), ("9111000060003734IO", "格式错误"),
                                        ("A1110000600037341L", "格式错误"), ("", "请填写"), (None, "请填写"),
                                        ("9.1110000600037E+17", "科学计数法")])
def test_uscc_refusals(raw, words):
    assert words in refusal(validate_uscc, raw).message


def test_uscc_built_like_the_seed_is_valid():
    body = "91440101MA59ABCD1"
    number = body + uscc.calc_check_digit(body)
    assert validate_uscc(number) == number


def test_field_name_can_be_given():
    assert refusal(validate_uscc, "x", field="tax_number").field == "tax_number"


# -- resident ID -----------------------------------------------------------------------------------

def test_resident_id_valid():
    doc = check_resident_id("360426199101010071")
    assert doc == IdDocument(IdType.RESIDENT_ID, "360426199101010071", date(1991, 1, 1), Gender.MALE, ())
    assert validate_resident_id("360426199101010071") == date(1991, 1, 1)


def test_resident_id_gender_and_lower_case_x():
    number = resident_id("44010619850615002")
    doc = check_resident_id(number.lower())
    assert doc.number == number and doc.gender is Gender.FEMALE and doc.birth_date == date(1985, 6, 15)


def test_resident_id_checksum():
    error = refusal(check_resident_id, wrong_check("360426199101010071"))
    assert error.message == "居民身份证号码校验位错误"
    assert error.field == "id_number"


@pytest.mark.parametrize("body, words", [("44010619850230001", "出生日期无效"), ("44010618991231001", "早于1900年"),
                                         ("99010619850615001", "地区代码无效"), ("81000019850615001", "地区代码无效")])
def test_resident_id_hard_rules(body, words):
    assert words in refusal(check_resident_id, resident_id(body)).message


def test_resident_id_future_birth_date():
    number = resident_id("44010620300101001")
    assert "晚于今天" in refusal(check_resident_id, number).message
    assert "晚于今天" in refusal(check_resident_id, resident_id("44010620250102001"), today=date(2025, 1, 1)).message
    assert validate_resident_id(resident_id("44010620250101001"), today=date(2025, 1, 1)) == date(2025, 1, 1)


@pytest.mark.parametrize("raw, words", [("440106850615001", "15位"), ("4401061985061500", "应为18位"),
                                        ("44010619850615A012", "格式错误"), ("4.40106198506E+17", "科学计数法")])
def test_resident_id_format(raw, words):
    assert words in refusal(check_resident_id, raw).message


def test_float_from_excel_is_refused():
    assert "末尾数字可能已丢失" in refusal(check_resident_id, 4.401061985061500e17).message


def test_county_unknown_to_stdnum_is_only_a_warning():
    number = resident_id("44999919850615001")  # stdnum raises KeyError for this code
    with pytest.raises(KeyError):
        ric.validate(number)
    doc = check_resident_id(number)
    assert doc.birth_date == date(1985, 6, 15) and len(doc.warnings) == 1 and "449999" in doc.warnings[0]


def test_county_that_did_not_exist_in_the_birth_year_is_only_a_warning():
    number = resident_id("44010319700101001")  # 荔湾区 exists from 1983
    assert not ric.is_valid(number)
    doc = check_resident_id(number)
    assert doc.birth_date == date(1970, 1, 1) and doc.warnings


# -- other documents and mobiles -------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("H12345678", "H12345678"), ("m1234567890", "M1234567890"),
                                           (" H 1234 5678 ", "H12345678")])
def test_hk_macao_permit(raw, expected):
    assert validate_hk_macao_permit(raw) == expected


@pytest.mark.parametrize("raw", ["X12345678", "H1234567", "H123456789", "12345678", ""])
def test_hk_macao_permit_refused(raw):
    refusal(validate_hk_macao_permit, raw)


@pytest.mark.parametrize("raw, ok", [("12345678", True), ("1234567890", True), ("123456789", False),
                                     ("T1234567", False)])
def test_taiwan_permit(raw, ok):
    if ok:
        assert validate_taiwan_permit(raw) == raw
    else:
        refusal(validate_taiwan_permit, raw)


@pytest.mark.parametrize("raw, ok", [("E12345678", True), ("ab123", True), ("A" * 20, True), ("1234", False),
                                     ("A" * 21, False), ("E1234-5678", False)])
def test_passport(raw, ok):
    if ok:
        assert validate_passport(raw) == raw.upper()
    else:
        refusal(validate_passport, raw)


@pytest.mark.parametrize("raw", ["13800138000", "+86 138-0013-8000", "0086 13800138000", "１３８００１３８０００",
                                 "19912345678"])
def test_mobile(raw):
    assert validate_mobile(raw)[:3] in {"138", "199"} and len(validate_mobile(raw)) == 11


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "138001380001", "020-38819873", ""])
def test_mobile_refused(raw):
    assert refusal(validate_mobile, raw).field == "mobile"


# -- dispatch --------------------------------------------------------------------------------------

@pytest.mark.parametrize("id_type, number, expected", [
    (IdType.RESIDENT_ID, "360426199101010071", "360426199101010071"),
    ("resident_id", "360426199101010071", "360426199101010071"),
    (IdType.HK_MACAO_PERMIT, "h12345678", "H12345678"),
    (IdType.TAIWAN_PERMIT, "12345678", "12345678"),
    ("passport", "e12345678", "E12345678"),
])
def test_validate_id_document(id_type, number, expected):
    doc = validate_id_document(id_type, number)
    assert doc.number == expected and doc.id_type is IdType(id_type)
    assert (doc.birth_date is not None) == (doc.id_type is IdType.RESIDENT_ID)


def test_validate_id_document_checks_the_type_given():
    assert "港澳" in refusal(validate_id_document, IdType.HK_MACAO_PERMIT, "360426199101010071").message
    assert "校验位" in refusal(validate_id_document, IdType.RESIDENT_ID, wrong_check("360426199101010071")).message
    assert refusal(validate_id_document, "driving_licence", "123456").field == "id_type"
