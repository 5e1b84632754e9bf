"""The simulator's current state of the day, per entity: what its query API answers and what
``GET /state`` shows, so tests can compare the system's view with the truth.

The card (meetings, races, runners, products, legs, selections) comes from
:class:`~simulator.racing.RaceDay` as meetings join it; every *generated* message is then applied
here (:meth:`DayState.apply`), whether or not a client received it.  That is the point: a
subscriber that was deaf, disconnected or not yet started misses messages, the state does not,
and a query sweep must bring the subscriber back to it.

Entities the stream has said nothing about yet have the state a query would show before the
race: products ``UNKNOWN`` selling status with a zero pool, selections ``AVAILABLE``, events
``SCHEDULED``, runners ``PROVISIONAL``, no result, no dividends.

Plain data and functions; no I/O.  Not thread-safe: the simulator touches it only from its
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from contract.queries import RACING_TZ
from simulator.racing import TAKEOUT, Event, Meeting, Message, Product

__all__ = ["DayState", "EventState", "ProductState", "event_name", "product_name"]


def _title(course: str) -> str:
    return course.replace("-", " ").title()


def event_name(meeting: Meeting, event: Event) -> str:
    """e.g. ``13:45 Newcastle``."""
    return f"{event.hhmm[:2]}:{event.hhmm[2:]} {_title(meeting.course)}"


def product_name(meeting: Meeting, product: Product) -> str:
    """e.g. ``NEWCASTLE RACE 3 - WIN`` (Tote's style) or ``NEWCASTLE PLACEPOT``."""
    if product.pool == "PLACEPOT":
        return f"{meeting.course.replace('-', ' ')} PLACEPOT"
    return (
        f"{meeting.course.replace('-', ' ')} RACE {product.legs[0].event.number} - {product.pool}"
    )


def _money(amount: float) -> dict[str, Any]:
    return {"decimalAmount": amount, "currency": {"code": "GBP"}}


@dataclass
class ProductState:
    product: Product
    meeting: Meeting
    status: str = "UNKNOWN"
    gross: float = 0.0
    net: float = 0.0
    finalized: bool = False
    selections: dict[tuple[str, str], str] = field(default_factory=dict)  # (leg, sel) -> status
    dividends: list[dict[str, Any]] | None = None


@dataclass
class EventState:
    event: Event
    meeting: Meeting
    status: str = "SCHEDULED"
    competitors: dict[str, str] = field(default_factory=dict)  # competitor id -> entry status
    result_status: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        hhmm = self.event.hhmm
        local = datetime.combine(self.meeting.day, time(int(hhmm[:2]), int(hhmm[2:])), RACING_TZ)
        return local.astimezone(UTC)


class DayState:
    """Every entity of every meeting on the card so far, with its current state."""

    def __init__(self) -> None:
        self.products: dict[str, ProductState] = {}
        self.events: dict[str, EventState] = {}
        self.applied = 0

    # -- building -------------------------------------------------------------------------------

    def add_meeting(self, meeting: Meeting) -> None:
        """A meeting joined the card: its events and products start in their pre-race state."""
        for event in meeting.events:
            self.events[event.event_id] = EventState(
                event, meeting, competitors=dict.fromkeys(event.runners, "PROVISIONAL")
            )
        products = [p for e in meeting.events for p in e.products]
        if meeting.placepot is not None:
            products.append(meeting.placepot)
        for product in products:
            self.products[product.product_id] = ProductState(
                product,
                meeting,
                selections={
                    (leg.leg_id, sel): "AVAILABLE"
                    for leg in product.legs
                    for sel in leg.selections.values()
                },
            )

    def apply(self, message: Message) -> None:  # noqa: C901 - one case per state message type
        """Update the entity ``message`` is about (unknown ids and bet messages change nothing:
        the query sweep does not ask about bets)."""
        self.applied += 1
        p = message.payload
        match message.field:
            case "onProductStatusChanged":
                if (product := self.products.get(p["productId"])) is not None:
                    product.status = p["status"]
            case "onPoolTotalChanged":
                if (product := self.products.get(p["productId"])) is not None:
                    product.gross = p["total"]["grossAmounts"][0]["decimalAmount"]
                    product.net = p["total"]["netAmounts"][0]["decimalAmount"]
                    product.finalized = bool(p.get("isFinalized"))
            case "onSelectionStatusChanged":
                if (product := self.products.get(p["productId"])) is not None:
                    product.selections[(p["legId"], p["selectionId"])] = p["status"]
            case "onPoolDividendChanged":
                if (product := self.products.get(p["productId"])) is not None:
                    product.dividends = p["dividends"]
            case "onEventStatusChanged":
                if (event := self.events.get(p["eventId"])) is not None:
                    event.status = p["status"]
            case "onCompetitorStatusChanged":
                if (event := self.events.get(p["eventId"])) is not None:
                    event.competitors[p["competitorId"]] = p["status"]
            case "onEventResultChanged":
                if (event := self.events.get(p["eventId"])) is not None:
                    event.result_status = p["status"]
                    event.results = p["competitorResults"]

    # -- reading --------------------------------------------------------------------------------

    def products_on(self, day: date) -> list[ProductState]:
        """Products whose first leg's race is on ``day``, in card order."""
        return [s for s in self.products.values() if s.meeting.day == day]

    def events_between(self, since: datetime | None, until: datetime | None) -> list[EventState]:
        """Events whose scheduled start is in ``[since, until)``, in card order."""
        return [
            s
            for s in self.events.values()
            if (since is None or s.start >= since) and (until is None or s.start < until)
        ]

    def product_node(self, s: ProductState) -> dict[str, Any]:
        """A product as ``contract.queries.PRODUCTS_QUERY`` selects it."""
        product = s.product
        legs = []
        for leg in product.legs:
            event = leg.event
            legs.append(
                {
                    "id": leg.leg_id,
                    "event": {"id": event.event_id},
                    "selections": {
                        "nodes": [
                            {
                                "id": sel,
                                "name": event.names.get(competitor, competitor),
                                "status": s.selections[(leg.leg_id, sel)],
                                "competitor": {"id": competitor},
                            }
                            for competitor, sel in leg.selections.items()
                        ]
                    },
                }
            )
        result = None
        if s.dividends is not None:
            result = {
                "status": "FINAL",
                "dividends": {
                    "nodes": [
                        {
                            "dividend": d["dividend"],
                            "dividendLegs": {
                                "nodes": [
                                    {
                                        "id": leg["legId"],
                                        "dividendSelections": {"nodes": leg["selections"]},
                                    }
                                    for leg in d["legs"]
                                ]
                            },
                        }
                        for d in s.dividends
                    ]
                },
            }
        return {
            "id": product.product_id,
            "name": product_name(s.meeting, product),
            "type": {
                "__typename": "BettingProduct",
                "betType": {"code": product.pool},
                "selling": {"status": s.status},
                "pool": {"total": {"grossAmount": _money(s.gross), "netAmount": _money(s.net)}},
                "legs": {"nodes": legs},
                "result": result,
            },
        }

    def event_node(self, s: EventState) -> dict[str, Any]:
        """An event as ``contract.queries.EVENTS_QUERY`` selects it."""
        event = s.event
        result = None
        if s.result_status is not None:
            result = {
                "status": s.result_status,
                "results": {
                    "nodes": [
                        {
                            "id": r["competitorId"],
                            "name": event.names.get(r["competitorId"], r["competitorId"]),
                            "finishingPosition": r["finishingPosition"],
                            "status": r["status"],
                        }
                        for r in s.results
                    ]
                },
            }
        return {
            "id": event.event_id,
            "name": event_name(s.meeting, event),
            "status": s.status,
            "scheduledStartDateTime": {"iso8601": s.start.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "venue": {
                "name": _title(s.meeting.course),
                "country": {"alpha2Code": s.meeting.country},
            },
            "eventCompetitors": {
                "nodes": [
                    {
                        "id": competitor,
                        "name": event.names.get(competitor, competitor),
                        "entryStatus": s.competitors[competitor],
                        "details": {"__typename": "HorseDetails", "clothNumber": n},
                    }
                    for n, competitor in enumerate(event.runners, 1)
                ]
            },
            "result": result,
        }

    def snapshot(self, day: date | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """``GET /state``: per catalog message type, ``"key|key"`` → the entity's current values,
        in the typed tables' terms (key columns as in ``contract.catalog``)."""
        products = self.products_on(day) if day else list(self.products.values())
        events = (
            [s for s in self.events.values() if s.meeting.day == day]
            if day
            else list(self.events.values())
        )
        out: dict[str, dict[str, dict[str, Any]]] = {
            "ProductStatusChanged": {},
            "PoolTotalChanged": {},
            "SelectionStatusChanged": {},
            "PoolDividendChanged": {},
            "EventStatusChanged": {},
            "CompetitorStatusChanged": {},
            "EventResultChanged": {},
        }
        for s in products:
            pid = s.product.product_id
            out["ProductStatusChanged"][pid] = {"status": s.status}
            out["PoolTotalChanged"][pid] = {
                "gross": s.gross,
                "net": s.net,
                "currency": "GBP",
                "takeout": TAKEOUT[s.product.pool],
            }
            for (leg, sel), status in s.selections.items():
                out["SelectionStatusChanged"][f"{pid}|{leg}|{sel}"] = {"status": status}
            if s.dividends is not None:
                out["PoolDividendChanged"][pid] = {
                    "dividends": [
                        {
                            "name": d["dividend"]["name"],
                            "type": d["dividend"]["type"],
                            "status": d["dividend"]["status"],
                            "amount": d["dividend"]["amount"]["decimalAmount"],
                            "selection_ids": sorted(
                                sel["id"] for leg in d["legs"] for sel in leg["selections"]
                            ),
                        }
                        for d in s.dividends
                    ]
                }
        for ev in events:
            eid = ev.event.event_id
            out["EventStatusChanged"][eid] = {"status": ev.status}
            for competitor, status in ev.competitors.items():
                out["CompetitorStatusChanged"][f"{eid}|{competitor}"] = {"status": status}
            if ev.result_status is not None:
                out["EventResultChanged"][eid] = {
                    "result_status": ev.result_status,
                    "competitor_results": [
                        {
                            "competitor_id": r["competitorId"],
                            "finishing_position": r["finishingPosition"],
                            "status": r["status"],
                        }
                        for r in ev.results
                    ],
                }
        return out
