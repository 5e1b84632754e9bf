"""``/status`` bookkeeping: per-subscription silence, watchdog figures; and the documented
states are exactly the ones that exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from connector.status import ConnectorStatus, State

ROOT = Path(__file__).resolve().parents[2]


def test_each_subscription_shows_when_it_last_had_a_message() -> None:
    status = ConnectorStatus()
    status.subscription("onPoolTotalChanged", "active")
    status.subscription("onBetAccepted", "active")
    status.frame("onPoolTotalChanged", datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC))
    status.frame("onPoolTotalChanged", datetime(2026, 5, 1, 12, 0, 3, tzinfo=UTC))
    out = status.to_dict()
    pools = out["subscriptions"]["onPoolTotalChanged"]
    assert pools["state"] == "active" and pools["last_message_at"].startswith("2026-05-01T12:00:03")
    assert out["subscriptions"]["onBetAccepted"]["last_message_at"] is None  # silent so far
    status.subscription("onPoolTotalChanged", "completed")  # a state change keeps the time
    assert status.to_dict()["subscriptions"]["onPoolTotalChanged"]["last_message_at"]


def test_watchdog_figures() -> None:
    status = ConnectorStatus()
    status.liveness(15.0004, 5.0)
    out = status.to_dict()
    assert out["watchdog_deadline_s"] == 15.0 and out["keepalive_interval_s"] == 5.0
    status.liveness(30, None)
    assert status.to_dict()["keepalive_interval_s"] is None


def test_docs_name_only_states_that_exist() -> None:
    """Runbooks and the connector doc may only cite real ``/status`` states."""
    states = {s.value for s in State}
    for doc in ("docs/operations.md",):
        text = (ROOT / doc).read_text(encoding="utf-8")
        cited = re.findall(r"`state`((?:\s*(?:,|or|/)?\s*`[a-z_]+`)+)", text)
        named = {n for group in cited for n in re.findall(r"`([a-z_]+)`", group)}
        assert named, f"{doc} cites no state (the check would be vacuous)"
        assert named <= states, f"{doc} names states that do not exist: {named - states}"


def test_runbook_says_4401_and_4403_are_fatal_not_loops() -> None:
    text = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    [line] = [p for p in text.split("\n- ") if "4401/4403" in p]
    assert "fatal" in line and "does not retry" in line and "`failed`" in line
    from connector.protocol import is_fatal_close

    assert is_fatal_close(4401) and is_fatal_close(4403)


def test_connector_doc_lists_exactly_the_states() -> None:
    text = (ROOT / "docs/connector.md").read_text(encoding="utf-8")
    [listing] = re.findall(r"state \(((?:`[a-z_]+`,? ?)+)\)", text)
    assert set(re.findall(r"`([a-z_]+)`", listing)) == {s.value for s in State}
