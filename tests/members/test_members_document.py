"""The members document: valid shapes pass, every bad one is refused with every problem named,
and the shipped JSON Schema is exactly what the models say."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from members_testkit import document, member, uid_key

from gateway.members import MembersDocumentError, json_schema, parse_document

SCHEMA_FILE = Path(__file__).parents[2] / "gateway" / "schemas" / "members.schema.json"


def refused(data: dict[str, object]) -> list[str]:
    with pytest.raises(MembersDocumentError) as caught:
        parse_document(data)
    return caught.value.problems


def test_a_valid_document_reads_money_as_decimal() -> None:
    doc = parse_document(document())
    alice = doc.members[0]
    assert alice.wallets.subsidy == Decimal("20.00")
    assert isinstance(alice.wallets.cash, Decimal)
    assert doc.groups[0].limits.meals[1].max == Decimal("30.00")
    assert doc.blacklist.version == 3


def test_the_shipped_schema_file_matches_the_models() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()


def test_unknown_group_and_duplicate_ids_are_all_reported_at_once() -> None:
    data = document()
    data["members"][1]["group"] = "nosuch"
    data["members"].append(dict(member(data, "M0001")))
    data["groups"].append({"id": "canteen"})
    problems = refused(data)
    assert any("no group 'nosuch'" in p for p in problems)
    assert any("members: id 'M0001' appears more than once" in p for p in problems)
    assert any("groups: id 'canteen' appears more than once" in p for p in problems)


def test_one_card_on_two_members_is_refused() -> None:
    data = document()
    member(data, "M0002")["cards"].append(uid_key("04:A2:B3:C4:D5:E6:80"))
    assert any("also a card of member 'M0001'" in p for p in refused(data))


def test_meal_periods_may_not_overlap_nor_cross_midnight() -> None:
    data = document()
    meals = data["groups"][0]["limits"]["meals"]
    meals[0]["to"] = "11:30"
    meals.append({"name": "late", "from": "22:00", "to": "02:00"})
    problems = refused(data)
    assert any("breakfast and lunch overlap" in p for p in problems)
    assert any("may not cross midnight" in p for p in problems)


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    data = document()
    member(data, "M0001")["wallets"]["cash"] = "1.005"
    data["groups"][0]["limits"]["per_day"] = "80.001"
    problems = refused(data)
    assert any("members[0].wallets.cash: 1.005" in p for p in problems)
    assert any("limits.per_day: 80.001" in p for p in problems)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("members", 0, "status"), "frozen", "members[0].status"),
        (("members", 0, "cards"), ["04A2B3C4D5E680"], "members[0].cards[0]"),
        (("members", 0, "wallets"), {"points": 1.5}, "members[0].wallets.points"),
        (("members", 0, "wallets"), {"cash": "-1.00"}, "members[0].wallets.cash"),
        (("card_hashing",), {"salt": "short"}, "card_hashing.salt"),
        (("schema",), "storegate.members/2", "schema"),
        (("offline",), {"stored_value": True, "surprise": 1}, "offline.surprise: unknown field"),
    ],
)
def test_bad_fields_are_named(path: tuple[object, ...], value: object, expected: str) -> None:
    data = document()
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    assert any(p.startswith(expected) for p in refused(data)), refused(data)


def test_meal_only_without_meals_is_refused() -> None:
    data = document()
    data["groups"][1]["limits"] = {"meal_only": True}
    assert any("meal_only: true but no meal periods" in p for p in refused(data))


def test_the_error_says_the_document_in_force_stays() -> None:
    data = document()
    data["groups"] = []
    with pytest.raises(MembersDocumentError) as caught:
        parse_document(data, source="members v9")
    assert "stays in force" in caught.value.what
    assert caught.value.where == "members v9"
    assert "docs/members.md" in (caught.value.fix or "")


def test_a_bad_salt_is_named_but_not_echoed() -> None:
    data = document()
    data["card_hashing"] = {"salt": "not-hex-but-long-enough-to-pass"}
    problems = refused(data)
    assert any(p.startswith("card_hashing.salt:") and p.endswith("(got ***)") for p in problems)
    assert not any("not-hex" in p for p in problems)
