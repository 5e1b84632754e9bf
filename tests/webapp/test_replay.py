from __future__ import annotations

from typing import Any

from webapp.events import EventKey
from webapp.replay import Gap, ReplayPlan, plan_replay

ID = "1795701787123-ab-0000abcd"
KEY = EventKey.parse(ID)


def _plan(last: str | None, **kw: object) -> ReplayPlan:
    args: dict[str, Any] = {
        "found": None,
        "at_or_before": None,
        "oldest": 5,
        "head": 9,
        "covered": False,
    }
    args.update(kw)
    return plan_replay(last, oldest_id="oldest", **args)


def test_no_last_event_id_means_live_only() -> None:
    assert _plan(None) == ReplayPlan(after=9)
    assert _plan("") == ReplayPlan(after=9)


def test_an_id_held_here_replays_exactly_what_followed() -> None:
    assert _plan(ID, found=6) == ReplayPlan(after=6)
    assert _plan(ID, found=9) == ReplayPlan(after=9)  # up to date
    assert _plan(ID, found=4) == ReplayPlan(after=4)  # just before the oldest: no gap


def test_an_id_held_but_beyond_the_client_queue_reports_what_is_missed() -> None:
    assert _plan(ID, found=1) == ReplayPlan(after=4, gap=Gap("expired", ID, 3, "oldest"))


def test_an_id_not_held_resumes_after_its_predecessor_with_a_floor() -> None:
    assert _plan(ID, at_or_before=7) == ReplayPlan(after=7, floor=KEY)
    assert _plan(ID, at_or_before=2) == ReplayPlan(
        after=4, floor=KEY, gap=Gap("expired", ID, 2, "oldest")
    )


def test_an_id_before_everything_held_is_fine_only_when_the_history_covers_it() -> None:
    assert _plan(ID, covered=True) == ReplayPlan(after=4, floor=KEY)
    assert _plan(ID) == ReplayPlan(after=4, floor=KEY, gap=Gap("expired", ID, None, "oldest"))


def test_ids_that_are_not_ours_are_reported() -> None:
    for bad in ("ep-3", "garbage", "1795701787123-AB-0000abcd"):
        assert _plan(bad) == ReplayPlan(after=9, gap=Gap("unknown-id", bad, None, "oldest"))


def test_gap_serialises_for_the_client() -> None:
    assert Gap("expired", ID, 3, "x").as_dict() == {
        "reason": "expired",
        "last_event_id": ID,
        "missed": 3,
        "oldest_available": "x",
    }


def test_an_origin_id_replays_everything_held_when_the_history_reaches_back() -> None:
    origin = "1795701787123-0-00000000"
    assert _plan(origin, covered=True) == ReplayPlan(after=4)
    assert _plan(origin) == ReplayPlan(after=4, gap=Gap("expired", origin, None, "oldest"))
    assert EventKey.derive(1, "0", "x").frame != "0"  # no real event has the origin's frame
