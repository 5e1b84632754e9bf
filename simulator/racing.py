"""A synthetic UK race day as a stream of Tote subscription messages, deterministic per seed.

Meetings at real-sounding courses run races (events with slug ids, as Tote's
``HORSERACING-NEWCASTLE-GB-2026-01-31-1925``); each race has runners (competitor ids built from
the event id and the runner's name), products (WIN, PLACE, EXACTA, TRIFECTA with one leg, and a
per-meeting PLACEPOT whose legs are the meeting's first races), each leg with one selection per
runner (UUIDs).  A race's script goes: scheduled, products open, bets accepted / rejected /
failed, pool totals growing in decimal GBP, the odd non-runner (competitor WITHDRAWN, its
selections NOT_AVAILABLE) or delay, off (STARTED, products CLOSED, final pool totals), FINISHED,
provisional then final result, dividends, settled products and resulted / settled bets.
Several races are under way at once, so messages interleave like a real afternoon.

Payload keys are the camelCase names the message catalog's column ``sources`` read; money is a
JSON number with two decimals at most (``6645.4``).  The same seed gives the same messages.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

__all__ = ["Event", "Meeting", "Message", "Product", "RaceDay"]

COURSES: tuple[tuple[str, str], ...] = (
    ("NEWCASTLE", "GB"),
    ("ASCOT", "GB"),
    ("KEMPTON", "GB"),
    ("WOLVERHAMPTON", "GB"),
    ("LINGFIELD", "GB"),
    ("CHELMSFORD-CITY", "GB"),
    ("SOUTHWELL", "GB"),
    ("HAYDOCK", "GB"),
    ("CHELTENHAM", "GB"),
    ("MUSSELBURGH", "GB"),
    ("DUNDALK", "IE"),
    ("LEOPARDSTOWN", "IE"),
)
_FIRST = (
    "SHE'S A",
    "DANCING",
    "MIDNIGHT",
    "ROYAL",
    "GOLDEN",
    "QUIET",
    "SILVER",
    "LUCKY",
    "NORTHERN",
    "WILD",
    "SUPREME",
    "CAPTAIN'S",
    "BLUE",
    "STORMY",
)
_SECOND = (
    "JOKER",
    "QUEEN",
    "EXPRESS",
    "DREAMER",
    "LEGEND",
    "ARROW",
    "SPIRIT",
    "VENTURE",
    "MELODY",
    "HARBOUR",
    "ECHO",
    "FORTUNE",
    "RAMBLER",
    "TEMPEST",
)
SINGLE_LEG_POOLS = ("WIN", "PLACE", "EXACTA", "TRIFECTA")
REJECT_REASONS = ("Product was not open", "Stake below minimum", "Selection not available")
FAIL_REASONS = ("Timed out waiting for pool", "Insufficient funds")
TAKEOUT = {"WIN": 0.135, "PLACE": 0.16, "EXACTA": 0.22, "TRIFECTA": 0.27, "PLACEPOT": 0.275}


@dataclass(frozen=True, slots=True)
class Message:
    """One subscription message: the root ``field`` and its payload object."""

    field: str
    payload: dict[str, Any]


@dataclass(slots=True)
class Leg:
    leg_id: str
    event: Event
    selections: dict[str, str]  # competitor id -> selection id


@dataclass(slots=True)
class Product:
    product_id: str
    pool: str
    legs: list[Leg]
    gross: float = 0.0
    status: str = "SCHEDULED"

    def money(self, amount: float) -> list[dict[str, Any]]:
        return [{"decimalAmount": round(amount, 2), "currency": {"code": "GBP"}}]

    def total(self, finalized: bool = False) -> dict[str, Any]:
        net = self.gross * (1 - TAKEOUT[self.pool])
        return {
            "productId": self.product_id,
            "isFinalized": finalized,
            "total": {"grossAmounts": self.money(self.gross), "netAmounts": self.money(net)},
        }


@dataclass(slots=True)
class Event:
    event_id: str
    runners: list[str]  # competitor ids
    products: list[Product] = field(default_factory=list)
    withdrawn: set[str] = field(default_factory=set)
    placing: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Meeting:
    course: str
    country: str
    day: date
    events: list[Event]
    placepot: Product | None = None


class RaceDay:
    """Iterates the messages of an endless sequence of race days (``messages()``).

    ``concurrent`` races run interleaved; ``bets_per_race`` and ``pool_updates_per_race``
    set how busy a race is (pool totals dominate, as on Tote).
    """

    def __init__(
        self,
        seed: int = 1,
        start: date = date(2026, 11, 26),
        concurrent: int = 3,
        pool_updates_per_race: int = 40,
        bets_per_race: int = 12,
    ) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.concurrent = concurrent
        self.pool_updates_per_race = pool_updates_per_race
        self.bets_per_race = bets_per_race

    # -- identifiers ----------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def bet_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def horse(self, taken: set[str]) -> str:
        while True:
            name = f"{self.rng.choice(_FIRST)} {self.rng.choice(_SECOND)}"
            if name not in taken:
                taken.add(name)
                return name

    # -- the card -------------------------------------------------------------------------------

    def meeting(self, course: str, country: str, day: date, first_race: int) -> Meeting:
        """A meeting: 6-8 races every 30-35 minutes from ``first_race`` (minutes after 00:00)."""
        events = []
        minute = first_race
        for _ in range(self.rng.randint(6, 8)):
            hhmm = f"{minute // 60:02d}{minute % 60:02d}"
            event_id = f"HORSERACING-{course}-{country}-{day.isoformat()}-{hhmm}"
            taken: set[str] = set()
            names = [self.horse(taken) for _ in range(self.rng.randint(5, 12))]
            runners = [f"{event_id}-{n.replace(' ', '-')}" for n in names]
            event = Event(event_id, runners)
            for pool in SINGLE_LEG_POOLS:
                leg = Leg(self.uuid(), event, {r: self.uuid() for r in runners})
                event.products.append(Product(self.uuid(), pool, [leg]))
            events.append(event)
            minute += self.rng.choice((30, 30, 35))
        meeting = Meeting(course, country, day, events)
        legs = [Leg(self.uuid(), e, {r: self.uuid() for r in e.runners}) for e in events[:6]]
        meeting.placepot = Product(self.uuid(), "PLACEPOT", legs)
        return meeting

    def meetings(self) -> Iterator[Meeting]:
        day = self.start
        while True:
            courses = self.rng.sample(COURSES, k=4)
            for i, (course, country) in enumerate(courses):
                yield self.meeting(course, country, day, 12 * 60 + 15 * i + self.rng.randint(0, 10))
            day += timedelta(days=1)

    # -- the messages -----------------------------------------------------------------------------

    def messages(self) -> Iterator[Message]:
        """The endless stream: ``concurrent`` meetings at once, each running its races in order."""
        meetings = self.meetings()
        active = [self._meeting(next(meetings)) for _ in range(self.concurrent)]
        while True:
            i = self.rng.randrange(len(active))
            try:
                yield next(active[i])
            except StopIteration:
                active[i] = self._meeting(next(meetings))

    def _meeting(self, meeting: Meeting) -> Iterator[Message]:
        placepot = meeting.placepot
        assert placepot is not None
        for n, event in enumerate(meeting.events):
            yield from self._race(meeting, event, placepot if n == 0 else None)
        yield from self._placepot_result(placepot)

    def _status(self, product: Product, status: str) -> Message:
        product.status = status
        return Message(
            "onProductStatusChanged", {"productId": product.product_id, "status": status}
        )

    def _race(  # noqa: C901 - one race told in order, as Tote sends it; a script, not logic
        self, meeting: Meeting, event: Event, placepot: Product | None
    ) -> Iterator[Message]:
        rng = self.rng
        eid = event.event_id
        products = list(event.products)
        yield Message("onEventStatusChanged", {"eventId": eid, "status": "SCHEDULED"})
        for runner in event.runners:
            yield Message(
                "onCompetitorStatusChanged",
                {"eventId": eid, "competitorId": runner, "status": "CONFIRMED"},
            )
        if placepot is not None:
            products.append(placepot)
        for product in products:
            if product.status != "OPEN":
                yield self._status(product, "OPEN")
        accepted: list[tuple[str, str, Product]] = []
        steps = self.pool_updates_per_race + self.bets_per_race
        for _ in range(steps):
            roll = rng.random()
            if roll < self.bets_per_race / steps:
                yield from self._bet(products, accepted)
            elif roll < 0.985:
                product = rng.choice(products)
                product.gross += rng.choice((2, 5, 10, 20, 50)) * rng.randint(1, 40) + rng.choice(
                    (0, 0.5, 0.25, 0.1)
                )
                yield Message("onPoolTotalChanged", product.total())
            elif len(event.runners) - len(event.withdrawn) > 4:
                yield from self._non_runner(event, placepot)
            else:
                yield Message("onEventStatusChanged", {"eventId": eid, "status": "DELAYED"})
            if rng.random() < 0.01:
                yield Message("onEventUpdated", {"eventId": eid})
            if rng.random() < 0.01:
                yield Message("onLinesChanged", {"__typename": "LinesChanged"})
        yield Message("onEventStatusChanged", {"eventId": eid, "status": "STARTED"})
        for product in event.products:
            yield self._status(product, "CLOSED")
            yield Message("onPoolTotalChanged", product.total(finalized=True))
        if placepot is not None:
            yield self._status(placepot, "CLOSED")
            yield Message("onPoolTotalChanged", placepot.total(finalized=True))
        yield Message("onEventStatusChanged", {"eventId": eid, "status": "FINISHED"})
        runners = [r for r in event.runners if r not in event.withdrawn]
        rng.shuffle(runners)
        event.placing = runners
        for result_status in ("PROVISIONAL", "FINAL"):
            yield Message(
                "onEventResultChanged",
                {
                    "eventId": eid,
                    "status": result_status,
                    "competitorResults": [
                        {"competitorId": c, "finishingPosition": str(p), "status": "FINISHED"}
                        for p, c in enumerate(runners, 1)
                    ]
                    + [
                        {"competitorId": c, "finishingPosition": "", "status": "WITHDRAWN"}
                        for c in sorted(event.withdrawn)
                    ],
                },
            )
        for product in event.products:
            yield self._dividend(product, runners)
            yield self._status(product, "SETTLED")
        for bet_id, customer_id, product in accepted:
            yield from self._bet_outcome(bet_id, customer_id, product)

    def _bet(
        self, products: list[Product], accepted: list[tuple[str, str, Product]]
    ) -> Iterator[Message]:
        rng = self.rng
        bet_id, customer_id = (
            self.bet_id(),
            f"CUST-{rng.randint(1, 99999):05d}-{rng.randint(1, 999)}",
        )
        roll = rng.random()
        if roll < 0.85:
            product = rng.choice(products)
            accepted.append((bet_id, customer_id, product))
            yield Message("onBetAccepted", {"betId": bet_id, "customerBetId": customer_id})
        elif roll < 0.95:
            yield Message(
                "onBetRejected",
                {
                    "betId": bet_id,
                    "customerBetId": customer_id,
                    "reason": rng.choice(REJECT_REASONS),
                },
            )
        else:
            yield Message(
                "onBetFailed",
                {"betId": bet_id, "customerBetId": customer_id, "reason": rng.choice(FAIL_REASONS)},
            )

    def _non_runner(self, event: Event, placepot: Product | None) -> Iterator[Message]:
        runner = self.rng.choice([r for r in event.runners if r not in event.withdrawn])
        event.withdrawn.add(runner)
        yield Message(
            "onCompetitorStatusChanged",
            {"eventId": event.event_id, "competitorId": runner, "status": "WITHDRAWN"},
        )
        products = [*event.products, *([placepot] if placepot else [])]
        for product in products:
            for leg in product.legs:
                if runner in leg.selections:
                    yield Message(
                        "onSelectionStatusChanged",
                        {
                            "productId": product.product_id,
                            "legId": leg.leg_id,
                            "selectionId": leg.selections[runner],
                            "status": "NOT_AVAILABLE",
                        },
                    )

    def _dividend(self, product: Product, placing: list[str]) -> Message:
        leg = product.legs[0]
        winners = {"WIN": 1, "PLACE": 3 if len(placing) >= 8 else 2, "EXACTA": 2, "TRIFECTA": 3}
        count = min(winners.get(product.pool, 1), len(placing))
        net = product.gross * (1 - TAKEOUT[product.pool])
        amount = max(1.0, round(net / max(1.0, self.rng.uniform(0.5, 12.0)), 2))
        dividends = []
        if product.pool == "PLACE":
            for p in range(count):
                dividends.append(self._dividend_entry(leg, [(placing[p], p + 1)], amount / (p + 1)))
        else:
            dividends.append(
                self._dividend_entry(leg, [(placing[p], p + 1) for p in range(count)], amount)
            )
        return Message(
            "onPoolDividendChanged", {"productId": product.product_id, "dividends": dividends}
        )

    @staticmethod
    def _dividend_entry(leg: Leg, places: list[tuple[str, int]], amount: float) -> dict[str, Any]:
        return {
            "dividend": {
                "name": "Base",
                "type": "POOL",
                "status": "FINAL",
                "amount": {"decimalAmount": round(amount, 2), "currency": {"code": "GBP"}},
            },
            "legs": [
                {
                    "legId": leg.leg_id,
                    "selections": [
                        {"id": leg.selections[c], "finishingPosition": str(p)} for c, p in places
                    ],
                }
            ],
        }

    def _placepot_result(self, placepot: Product) -> Iterator[Message]:
        legs = [leg for leg in placepot.legs if leg.event.placing]
        net = placepot.gross * (1 - TAKEOUT["PLACEPOT"])
        amount = max(1.0, round(net / max(1.0, self.rng.uniform(5, 400)), 2))
        yield Message(
            "onPoolDividendChanged",
            {
                "productId": placepot.product_id,
                "dividends": [
                    {
                        "dividend": {
                            "name": "Base",
                            "type": "POOL",
                            "status": "FINAL",
                            "amount": {"decimalAmount": amount, "currency": {"code": "GBP"}},
                        },
                        "legs": [
                            {
                                "legId": leg.leg_id,
                                "selections": [
                                    {"id": leg.selections[c], "finishingPosition": str(p)}
                                    for p, c in enumerate(leg.event.placing[:3], 1)
                                ],
                            }
                            for leg in legs
                        ],
                    }
                ],
            },
        )
        yield self._status(placepot, "SETTLED")

    def _bet_outcome(self, bet_id: str, customer_id: str, product: Product) -> Iterator[Message]:
        rng = self.rng
        base = {"betId": bet_id, "customerBetId": customer_id}
        if rng.random() < 0.03:
            yield Message("onBetCancelled", dict(base))
            return
        won = rng.random() < 0.25
        returns = round(rng.uniform(2, 250), 2) if won else 0
        yield Message(
            "onBetResulted",
            {
                **base,
                "status": "WON" if won else "LOST",
                "returns": {"decimalAmount": returns, "currency": {"code": "GBP"}},
            },
        )
        yield Message("onBetSettled", {**base, "status": "SETTLED"})
