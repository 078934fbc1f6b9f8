"""The one table of texts (gateway/i18n.py) that screens, pole display and receipts read:
complete in both languages, every key the code asks for present, every refusal code
worded in Chinese; and the catalog's names by language (`names`, backward compatible
with `name`) reach the words the screens and receipts use."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import get_args

import pytest

from devices.events import DeviceState, Role, WeightStatus
from gateway.catalog.catalog import build_catalog, load_catalog_file
from gateway.catalog.document import CatalogError, parse_document
from gateway.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    NOTICES_ZH,
    REFUSALS_ZH,
    TEXTS,
    adjustment_label,
    language_of,
    notice_text,
    product_name,
    translator,
)
from gateway.refusals import RefusalCode

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "catalog.example.json"
FIELDS = string.Formatter()
ASKED = re.compile(r"""\bt\(\s*["']([a-z_]+)["']\s*\)""")  # t("key"), self.t('key')


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in FIELDS.parse(text) if name}


def test_both_languages_have_every_key_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) == set(TEXTS) == set(LANGUAGE_NAMES)
    assert set(TEXTS["en"]) == set(TEXTS["zh"])
    for key, english in TEXTS["en"].items():
        assert placeholders(english) == placeholders(TEXTS["zh"][key]), key


def test_every_key_the_screens_and_receipts_ask_for_is_in_the_table() -> None:
    asked: set[str] = set()
    for folder in ("gateway/screens", "gateway/receipts"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".html"):
                asked |= set(ASKED.findall(path.read_text()))
    assert asked, "no t('key') found: the scan is broken"
    assert asked <= set(TEXTS["en"]), asked - set(TEXTS["en"])


def test_every_device_role_and_state_the_screens_show_has_a_text() -> None:
    shown = {*Role, *DeviceState, *WeightStatus}  # t(role), t(state), t(weight status)
    assert {str(value) for value in shown} <= set(TEXTS["zh"])


def test_every_refusal_code_has_a_chinese_sentence() -> None:
    codes = set(get_args(RefusalCode))
    assert codes <= set(REFUSALS_ZH), sorted(codes - set(REFUSALS_ZH))
    # (the rest are the screens' own codes for what the entry line cannot read)


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Change: 3.25", "找零：3.25"),
        ("Sale voided: give back cash 5.00", "整单已取消：退还 cash 5.00"),
        (
            "Drawer short: -0.50 (expected 101.75, counted 101.25).",
            "钱箱短款：-0.50（应有 101.75，实点 101.25）。",
        ),
        ("Coupon WELCOME5 is not known.", "优惠券 WELCOME5 无效。"),
        ("Basket discount 10%: 1.23 off.", "整单折扣 10%：优惠 1.23。"),
        ("Basket discount removed.", "已取消整单折扣。"),
        ("Something new the lane says.", "Something new the lane says."),
    ],
)
def test_lane_notices_are_translated_by_shape(english: str, chinese: str) -> None:
    assert notice_text("zh", english) == chinese
    assert notice_text("en", english) == english
    assert NOTICES_ZH


def test_a_cashier_language_is_a_known_one_or_the_box_default() -> None:
    assert language_of("zh", "en") == "zh"
    assert language_of(None, "zh") == "zh"
    assert language_of("fr", "en") == "en"
    assert translator("fr")("total") == TEXTS["en"]["total"]  # unknown: English, not a key


def named_document() -> dict[str, object]:
    doc = json.loads(EXAMPLE.read_text())
    milk = next(p for p in doc["products"] if p["sku"] == "MILK-1L")
    milk["names"] = {"zh": "全脂牛奶 1升", "de": "Vollmilch 1 l"}
    butter = next(p for p in doc["products"] if p["sku"] == "BUTTER-250")
    del butter["name"]
    butter["names"] = {"zh": "黄油 250克", "en": "Butter 250 g"}
    yog = next(p for p in doc["promotions"] if p["id"] == "yog-3for2")
    del yog["name"]
    yog["names"] = {"zh": "酸奶任选3件2.00"}
    return doc  # type: ignore[no-any-return]


def test_catalog_names_by_language_with_name_kept_backward_compatible() -> None:
    catalog = build_catalog(parse_document(named_document()))
    milk, butter = catalog.by_sku("MILK-1L"), catalog.by_sku("BUTTER-250")
    assert milk is not None and butter is not None
    assert milk.name == "Whole milk 1 l"  # `name` stays what the journal records
    assert butter.name == "Butter 250 g"  # no `name`: the English of `names`
    assert catalog.promotions["yog-3for2"].name == "酸奶任选3件2.00"  # else the first one
    assert catalog.product_name("MILK-1L", "zh") == "全脂牛奶 1升"
    assert catalog.product_name("EGGS-6", "zh") is None
    assert product_name("zh", "EGGS-6", "Free-range eggs 6", catalog) == "Free-range eggs 6"
    assert product_name("zh", "MILK-1L", "Whole milk 1 l", catalog) == "全脂牛奶 1升"
    assert adjustment_label("zh", "promotion", "x", "yog-3for2", catalog) == "酸奶任选3件2.00"
    assert adjustment_label("zh", "member_price", "member price", None, catalog) == "会员价"
    assert adjustment_label("en", "member_price", "member price", None, catalog) == "member price"
    # the whole-basket manual discount (整单折扣) keeps its percent or amount after its name
    assert adjustment_label("zh", "basket", "basket discount 10%", None, catalog) == "整单折扣 10%"
    assert adjustment_label("en", "basket", "basket discount 5.00", None, None) == (
        "basket discount 5.00"
    )
    plain = load_catalog_file(EXAMPLE)  # a document without `names` reads as before
    assert all(not p.names for p in plain.document.products)


def test_a_product_without_name_or_names_or_with_a_bad_language_is_refused() -> None:
    doc = named_document()
    eggs = next(p for p in doc["products"] if p["sku"] == "EGGS-6")  # type: ignore[attr-defined]
    del eggs["name"]
    milk = next(p for p in doc["products"] if p["sku"] == "MILK-1L")  # type: ignore[attr-defined]
    milk["names"]["ZH"] = "牛奶"
    with pytest.raises(CatalogError) as caught:
        parse_document(doc)
    problems = "\n".join(caught.value.problems)
    assert "(EGGS-6).name" in problems and "Field required" in problems
    assert "(MILK-1L).names.ZH" in problems
