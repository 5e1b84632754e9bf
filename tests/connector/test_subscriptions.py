from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.subscriptions import SubscriptionConfigError, load_selections, plan_subscriptions
from contract import catalog


def test_default_is_one_operation_per_catalog_entry() -> None:
    plan = plan_subscriptions()
    assert [s.field for s in plan] == [m.field for m in catalog.CATALOG]
    for sub in plan:
        mt = catalog.by_field(sub.field)
        assert mt is not None
        assert sub.document == catalog.subscription_document(mt)


def test_subset_keeps_catalog_order() -> None:
    plan = plan_subscriptions(["onProductStatusChanged", "onPoolTotalChanged"])
    assert [s.field for s in plan] == ["onPoolTotalChanged", "onProductStatusChanged"]


def test_selection_override_replaces_the_guess(tmp_path: Path) -> None:
    path = tmp_path / "sel.json"
    path.write_text(json.dumps({"onBetSettled": "{ betId settlementStatus }"}))
    plan = plan_subscriptions(["onBetSettled"], load_selections(str(path)))
    assert plan[0].document == "subscription BetSettled { onBetSettled { betId settlementStatus } }"


def test_unknown_field_is_a_clear_error() -> None:
    with pytest.raises(SubscriptionConfigError, match="onNoSuchThing"):
        plan_subscriptions(["onNoSuchThing"])
    with pytest.raises(SubscriptionConfigError, match="onNope"):
        plan_subscriptions([], {"onNope": "{ a }"})


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"onBetSettled": 3}'])
def test_bad_selections_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sel.json"
    path.write_text(content)
    with pytest.raises(SubscriptionConfigError, match=r"sel\.json"):
        load_selections(str(path))


def test_missing_selections_file_and_bad_selection(tmp_path: Path) -> None:
    with pytest.raises(SubscriptionConfigError, match="cannot read"):
        load_selections(str(tmp_path / "absent.json"))
    with pytest.raises(SubscriptionConfigError, match="must start with"):
        plan_subscriptions(["onBetSettled"], {"onBetSettled": "betId"})
    assert load_selections("") == {}
