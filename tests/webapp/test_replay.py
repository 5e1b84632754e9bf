from __future__ import annotations

from webapp.replay import Gap, ReplayPlan, plan_replay


def test_no_last_event_id_means_live_only() -> None:
    assert plan_replay(None, "ep", 5, 9) == ReplayPlan(after=9)
    assert plan_replay("", "ep", 5, 9) == ReplayPlan(after=9)


def test_an_id_inside_the_buffer_replays_exactly_what_followed() -> None:
    assert plan_replay("ep-6", "ep", 5, 9) == ReplayPlan(after=6)
    assert plan_replay("ep-9", "ep", 5, 9) == ReplayPlan(after=9)  # up to date
    assert plan_replay("ep-4", "ep", 5, 9) == ReplayPlan(after=4)  # just before oldest: no gap


def test_an_id_older_than_the_buffer_replays_all_and_reports_the_gap() -> None:
    plan = plan_replay("ep-1", "ep", 5, 9)
    assert plan == ReplayPlan(after=4, gap=Gap("expired", "ep-1", 3, "ep-5"))


def test_an_id_from_another_epoch_cannot_be_replayed() -> None:
    plan = plan_replay("old-3", "ep", 5, 9)
    assert plan.after == 9
    assert plan.gap == Gap("other-instance", "old-3", None, "ep-5")


def test_ids_from_the_future_or_garbage_are_reported() -> None:
    assert plan_replay("ep-50", "ep", 5, 9).gap == Gap("unknown-id", "ep-50", None, "ep-5")
    assert plan_replay("garbage", "ep", 1, 0).gap == Gap("unknown-id", "garbage", None, None)


def test_gap_serialises_for_the_notice() -> None:
    assert Gap("expired", "ep-1", 3, "ep-5").as_dict() == {
        "reason": "expired",
        "last_event_id": "ep-1",
        "missed": 3,
        "oldest_available": "ep-5",
    }
