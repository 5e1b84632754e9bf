"""The racing window: parsing, membership across DST, edge-only actions, the watcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.autostart import Autostart
from connector.settings import Settings, SettingsError
from connector.window import WindowAction, in_window, parse_window, window_action

LONDON = parse_window("06:00-23:00", "Europe/London")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        # winter (GMT = UTC)
        (utc(2026, 1, 15, 5, 59), False),
        (utc(2026, 1, 15, 6, 0), True),
        (utc(2026, 1, 15, 22, 59), True),
        (utc(2026, 1, 15, 23, 0), False),
        # summer (BST = UTC+1): 05:00 UTC is 06:00 in London, 22:00 UTC is 23:00
        (utc(2026, 7, 1, 4, 59), False),
        (utc(2026, 7, 1, 5, 0), True),
        (utc(2026, 7, 1, 21, 59), True),
        (utc(2026, 7, 1, 22, 0), False),
        # clocks go forward on 29 March 2026 at 01:00 UTC: 05:30 UTC is 06:30 BST
        (utc(2026, 3, 28, 5, 30), False),
        (utc(2026, 3, 29, 5, 30), True),
        # clocks go back on 25 October 2026 at 01:00 UTC: 05:30 UTC is 05:30 GMT
        (utc(2026, 10, 24, 5, 30), True),
        (utc(2026, 10, 25, 5, 30), False),
        (utc(2026, 10, 25, 22, 30), True),
    ],
)
def test_in_window_follows_london_clocks(now: datetime, inside: bool) -> None:
    assert in_window(now, LONDON) is inside


def test_window_past_midnight_and_all_day() -> None:
    night = parse_window("22:00-02:00", "UTC")
    assert in_window(utc(2026, 1, 1, 23, 0), night) and in_window(utc(2026, 1, 1, 1, 0), night)
    assert not in_window(utc(2026, 1, 1, 12, 0), night)
    always = parse_window("00:00-24:00", "Europe/London")
    assert all(in_window(utc(2026, 3, 29, h, 0), always) for h in range(24))


@pytest.mark.parametrize(
    ("spec", "zone"),
    [("6-23", "Europe/London"), ("06:00-25:00", "UTC"), ("06:60-23:00", "UTC"),
     ("06:00-24:30", "UTC"), ("06:00-23:00", "Mars/Olympus")],
)  # fmt: skip
def test_bad_windows_are_refused(spec: str, zone: str) -> None:
    with pytest.raises(ValueError):
        parse_window(spec, zone)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        in_window(datetime(2026, 1, 1, 12, 0), LONDON)


@pytest.mark.parametrize(
    ("was", "now", "action"),
    [
        (None, True, WindowAction.START),
        (None, False, WindowAction.NONE),
        (False, True, WindowAction.START),
        (True, False, WindowAction.STOP),
        (True, True, WindowAction.NONE),
        (False, False, WindowAction.NONE),
    ],
)
def test_only_edges_act(was: bool | None, now: bool, action: WindowAction) -> None:
    assert window_action(was, now) is action


class FakeService:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> bool:
        self.calls.append("start")
        return True

    def stop(self, timeout: float | None = None) -> bool:
        self.calls.append("stop")
        return True


def test_watcher_starts_at_boot_inside_and_stops_at_the_close_only_once() -> None:
    clock = [utc(2026, 7, 1, 21, 58)]  # 22:58 BST
    service = FakeService()
    watcher = Autostart(service, LONDON, period=3600, now=lambda: clock[0])
    watcher.start()
    assert service.calls == ["start"]
    clock[0] += timedelta(minutes=1)
    assert watcher.check() is WindowAction.NONE
    clock[0] += timedelta(minutes=2)  # 23:01 BST
    assert watcher.check() is WindowAction.STOP
    assert watcher.check() is WindowAction.NONE
    assert service.calls == ["start", "stop"]
    watcher.close()


def test_watcher_booting_outside_waits_for_the_opening() -> None:
    clock = [utc(2026, 1, 15, 5, 0)]
    service = FakeService()
    watcher = Autostart(service, LONDON, period=3600, now=lambda: clock[0])
    watcher.start()
    assert service.calls == []
    clock[0] = utc(2026, 1, 15, 6, 0)
    assert watcher.check() is WindowAction.START and service.calls == ["start"]
    watcher.close()


def test_settings_read_and_validate_the_window() -> None:
    s = Settings.from_env({"AUTOSTART": "true", "AUTOSTART_WINDOW": "06:00-23:00"})
    assert s.racing_window == LONDON
    assert Settings.from_env({}).racing_window.end is None  # no window: always
    with pytest.raises(SettingsError, match="AUTOSTART_WINDOW"):
        Settings.from_env({"AUTOSTART_WINDOW": "6 till 11"})
    with pytest.raises(SettingsError, match="AUTOSTART_TIME_ZONE"):
        Settings.from_env({"AUTOSTART_WINDOW": "06:00-23:00", "AUTOSTART_TIME_ZONE": "Nowhere/X"})
