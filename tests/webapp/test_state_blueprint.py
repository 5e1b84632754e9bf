"""GET /state over HTTP (Flask test client, no Pub/Sub): shape, filters, privacy, resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from flask import Flask

from tests.responses import json_body
from tests.webapp.conftest import inject
from tests.webapp.messages import EVENT, PRODUCT, event_status, pool_total, reference, typed_message
from webapp import sse
from webapp.access import Keyring
from webapp.http_access import PRIVATE_AUTHORISER
from webapp.subscriber import SubscriptionState
from webapp.tokens import mint

KEYS = Keyring.from_json(json.dumps({"k1": "a-state-test-secret-long-enough-0123456789"}))

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema"


def test_state_is_named_filterable_and_valid_against_the_published_schema(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    inject(
        app,
        reference(
            "event", EVENT, {"venue": "Newcastle", "scheduled_start": "2026-06-01T18:25:00Z"}
        ),
    )
    inject(app, reference("product", PRODUCT, {"bet_type": "WIN", "event_id": EVENT}))
    inject(app, pool_total("12.5"))
    inject(app, event_status("OFF"))
    inject(app, pool_total("1", product_id="00000000-0000-4000-8000-000000000000"))
    client = app.test_client()
    body = json_body(client.get("/state"))
    schema = json.loads((SCHEMA / "state.json").read_text())
    jsonschema.validate(body, schema)
    assert body["count"] == 5 and len(body["items"]) == 5
    race = json_body(client.get(f"/state?event_id={EVENT}&types=pool-total,event-status"))
    assert sorted(i["stream"] for i in race["items"]) == ["event-status", "pool-total"]
    pool = next(i for i in race["items"] if i["stream"] == "pool-total")
    assert pool["data"]["context"]["label"] == "Newcastle 19:25 · WIN"
    assert json_body(client.get("/state?venue=Ascot"))["count"] == 0
    bad = client.get("/state?types=nope")
    assert bad.status_code == 400 and "unknown event type" in json_body(bad)["error"]


def test_bets_need_a_granting_token_and_the_authorisation_hook(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(token_keys=KEYS)
    inject(app, typed_message("BetAccepted", {"bet_id": "ab" * 16}))
    inject(app, pool_total("1"))
    client = app.test_client()
    market = {"Authorization": f"Bearer {mint(KEYS, sub='m', streams=['market'], ttl=600)}"}
    both = {
        "Authorization": "Bearer "
        + mint(KEYS, sub="b", streams=["market", "bet-lifecycle"], ttl=600)
    }
    assert [i["stream"] for i in json_body(client.get("/state", headers=market))["items"]] == [
        "pool-total"
    ]
    assert client.get("/state?types=bet-lifecycle", headers=market).status_code == 403
    streams = sorted(i["stream"] for i in json_body(client.get("/state", headers=both))["items"])
    assert streams == ["bet-lifecycle", "pool-total"]
    app.config[PRIVATE_AUTHORISER] = lambda req: False
    assert json_body(client.get("/state", headers=both))["count"] == 1  # the hook says no: no bets


def test_state_then_events_has_no_gap_and_no_duplicate(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    before = inject(app, pool_total("1"))
    client = app.test_client()
    resume = json_body(client.get("/state"))["last_event_id"]
    assert resume == before.id  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)
    after = [inject(app, pool_total(str(i))) for i in range(2, 5)]
    response = client.get(f"/events?last_event_id={resume}")
    parser = sse.Parser()
    got: list[sse.Message] = []
    for chunk in response.iter_encoded():
        got += [m for m in parser.feed(chunk) if m.id]
        if len(got) >= 3:
            break
    response.close()
    assert [m.id for m in got] == [e.id for e in after]  # type: ignore[union-attr]  # inject()'s event: released at once (reorder_ms=0)


def test_state_needs_a_token_when_access_control_is_on(make_app: Callable[..., Flask]) -> None:
    client = make_app(token_keys=KEYS).test_client()
    denied = client.get("/state")
    assert denied.status_code == 401 and json_body(denied)["reason"] == "missing"
    token = mint(KEYS, sub="alice", streams=["market"], ttl=600)
    assert client.get("/state", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    open_market = make_app(market_data_open=True).test_client()
    assert open_market.get("/state").status_code == 200


def test_a_warming_instance_is_not_ready_and_serves_no_state(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.bus import EventBus

    app = make_app()
    runtime = app.extensions["tote"]
    warming = EventBus(warming=True)

    class Subscriber:  # what the Pub/Sub shell reports while it replays its window
        ready = False
        states: list[SubscriptionState] = []

    monkeypatch.setattr(runtime, "bus", warming)
    monkeypatch.setattr(runtime, "subscriber", Subscriber())
    client = app.test_client()
    health = client.get("/health")
    assert health.status_code == 503 and "warm-up" in json_body(health)["detail"]
    state = client.get("/state")
    assert state.status_code == 503 and "warming up" in json_body(state)["error"]
