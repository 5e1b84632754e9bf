"""The convergence check itself (no system): the simulator's stream, normalised by the real
pipeline normaliser, converges on the simulator's state; a lost message shows as a difference."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contract import catalog
from contract.ingress import format_timestamp
from pipeline.normalize import normalize
from simulator.racing import RaceDay
from simulator.state import DayState
from tests.e2e.convergence import differences, expected_state, latest_from_messages

DAY = date(2026, 11, 30)


def _typed(messages, start: datetime) -> list[dict[str, Any]]:
    out = []
    for i, message in enumerate(messages):
        spec = catalog.by_field(message.field)
        if spec is None or spec.table is None:
            continue
        stamp = format_timestamp(start + timedelta(milliseconds=i))
        out.append(
            {
                "message_type": spec.name,
                "as_of": stamp,
                "received_at": stamp,
                "data": normalize(spec, message.payload),
            }
        )
    return out


def test_every_message_heard_converges_and_a_lost_one_shows() -> None:
    state = DayState()
    stream = RaceDay(5, start=DAY, on_meeting=state.add_meeting).messages()
    messages = list(itertools.islice(stream, 700))
    for message in messages:
        state.apply(message)
    truth = expected_state(state.snapshot())
    start = datetime(2026, 11, 30, 12, tzinfo=UTC)

    assert differences(truth, latest_from_messages(_typed(messages, start))) == []

    # Lose the last status of some product: the system now shows an older one (or nothing).
    lost = max(i for i, m in enumerate(messages) if m.field == "onProductStatusChanged")
    heard = messages[:lost] + messages[lost + 1 :]
    problems = differences(truth, latest_from_messages(_typed(heard, start)))
    product = messages[lost].payload["productId"]
    assert problems and all(product in p for p in problems), problems

    # An older state that arrives later but is *as of* earlier does not win.
    late = _typed([messages[lost]], start + timedelta(hours=1))
    stale = _typed(heard, start)
    stale[0:0] = late  # order of arrival does not matter, as_of does
    assert differences(truth, latest_from_messages(stale)) == []
