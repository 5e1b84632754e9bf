from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal

from contract import catalog
from simulator.racing import Message, RaceDay

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EVENT = re.compile(r"^HORSERACING-[A-Z-]+-(GB|IE)-\d{4}-\d{2}-\d{2}-\d{4}$")


def take(n: int, seed: int = 7) -> list[Message]:
    return list(itertools.islice(RaceDay(seed).messages(), n))


def test_same_seed_same_day_other_seed_other_day() -> None:
    a = [(m.field, json.dumps(m.payload)) for m in take(2000)]
    b = [(m.field, json.dumps(m.payload)) for m in take(2000)]
    c = [(m.field, json.dumps(m.payload)) for m in take(2000, seed=8)]
    assert a == b and a != c


def test_every_catalog_subscription_is_exercised() -> None:
    fields = Counter(m.field for m in take(8000))
    assert set(fields) == {m.field for m in catalog.CATALOG}
    assert fields.most_common(1)[0][0] == "onPoolTotalChanged"


def test_required_catalog_sources_are_present() -> None:
    for m in take(5000):
        mt = catalog.by_field(m.field)
        assert mt is not None
        for column in mt.required_columns:
            assert any(s in m.payload for s in column.sources), (m.field, column.name)


def test_identifiers_have_tote_shapes() -> None:
    for m in take(5000):
        p = m.payload
        for key in ("productId", "legId", "selectionId"):
            if key in p:
                assert UUID.match(p[key]), p[key]
        if "eventId" in p:
            assert EVENT.match(p["eventId"]), p["eventId"]
        if "competitorId" in p:
            assert p["competitorId"].startswith(p["eventId"] + "-")
            assert p["competitorId"] == p["competitorId"].upper()
        if "betId" in p:
            assert re.fullmatch(r"[0-9a-f]{32}", p["betId"])


def test_pool_totals_grow_in_decimal_gbp_and_finalise() -> None:
    gross: dict[str, list[Decimal]] = defaultdict(list)
    finalised = set()
    for m in take(6000):
        if m.field == "onPoolTotalChanged":
            total = m.payload["total"]
            amount = total["grossAmounts"][0]
            assert amount["currency"]["code"] == "GBP"
            value = Decimal(json.dumps(amount["decimalAmount"]))
            assert value == value.quantize(Decimal("0.01"))
            net = Decimal(json.dumps(total["netAmounts"][0]["decimalAmount"]))
            assert net <= value
            gross[m.payload["productId"]].append(value)
            if m.payload["isFinalized"]:
                finalised.add(m.payload["productId"])
    assert finalised
    for values in gross.values():
        assert values == sorted(values)


def test_a_race_runs_its_lifecycle_in_order() -> None:
    statuses: dict[str, list[str]] = defaultdict(list)
    results: dict[str, list[str]] = defaultdict(list)
    for m in take(6000):
        if m.field == "onEventStatusChanged":
            statuses[m.payload["eventId"]].append(m.payload["status"])
        if m.field == "onEventResultChanged":
            results[m.payload["eventId"]].append(m.payload["status"])
    finished = [e for e, s in statuses.items() if "FINISHED" in s]
    assert len(finished) >= 3
    for event in finished:
        s = [x for x in statuses[event] if x != "DELAYED"]
        assert s == ["SCHEDULED", "STARTED", "FINISHED"]
        assert results[event][:2] == ["PROVISIONAL", "FINAL"]


def test_non_runners_withdraw_selections_and_stay_out_of_results() -> None:
    messages = take(20000)
    withdrawn = {
        m.payload["competitorId"]
        for m in messages
        if m.field == "onCompetitorStatusChanged" and m.payload["status"] == "WITHDRAWN"
    }
    assert withdrawn
    assert any(
        m.field == "onSelectionStatusChanged" and m.payload["status"] == "NOT_AVAILABLE"
        for m in messages
    )
    for m in messages:
        if m.field == "onEventResultChanged":
            for r in m.payload["competitorResults"]:
                if r["competitorId"] in withdrawn:
                    assert r["status"] == "WITHDRAWN" and r["finishingPosition"] is None


def test_products_open_close_settle_and_bets_resolve() -> None:
    messages = take(8000)
    seen: dict[str, list[str]] = defaultdict(list)
    for m in messages:
        if m.field == "onProductStatusChanged":
            seen[m.payload["productId"]].append(m.payload["status"])
    settled = [s for s in seen.values() if "SETTLED" in s]
    assert settled and all(s == ["OPEN", "CLOSED", "SETTLED"] for s in settled)
    accepted = {m.payload["betId"] for m in messages if m.field == "onBetAccepted"}
    resulted = {m.payload["betId"] for m in messages if m.field == "onBetResulted"}
    assert resulted and resulted <= accepted
    dividends = [m for m in messages if m.field == "onPoolDividendChanged"]
    assert dividends
    first = dividends[0].payload["dividends"][0]
    assert first["dividend"]["amount"]["currency"]["code"] == "GBP"
    assert UUID.match(first["legs"][0]["selections"][0]["id"])


def test_every_state_message_passes_the_pipelines_validation() -> None:
    """The simulator speaks what the pipeline accepts: no message of a long day is rejected
    (a withdrawn runner's position is null, not an empty string)."""
    from contract import catalog
    from pipeline.normalize import normalize

    for m in take(8000):
        spec = catalog.by_field(m.field)
        if spec is not None and spec.table is not None:
            normalize(spec, m.payload)  # raises ValidationError naming the field
