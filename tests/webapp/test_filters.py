from __future__ import annotations

from typing import Any

import pytest

from tests.webapp.messages import EVENT, PRODUCT, event_status, pool_total, product_status
from webapp.events import Event, make_event, parse_message
from webapp.filters import STREAMS, EventFilter, FilterError


def _event(message: tuple[bytes, dict[str, str], str]) -> Event:
    return make_event(parse_message(*message), 1)


def test_no_parameters_match_everything() -> None:
    f = EventFilter.from_query({})
    assert f.is_everything
    assert f.matches(_event(pool_total("1"))) and f.matches(_event(event_status("OFF")))


def test_types_are_comma_separated_and_may_repeat() -> None:
    f = EventFilter.from_query({"types": ["pool-total, product-status", "event-status"]})
    assert f.streams == frozenset({"pool-total", "product-status", "event-status"})
    assert f.matches(_event(pool_total("1")))
    assert not f.matches(_event(_bet()))


def _bet() -> tuple[bytes, dict[str, str], str]:
    from tests.webapp.messages import typed_message

    return typed_message("BetAccepted", {"bet_id": "ab" * 16})


def test_unknown_types_are_an_error_listing_the_known_ones() -> None:
    with pytest.raises(FilterError, match="unknown event type\\(s\\) nope") as info:
        EventFilter.from_query({"types": ["pool-total,nope"]})
    assert all(s in str(info.value) for s in STREAMS)


def test_product_filter_is_case_insensitive_and_excludes_events_without_product() -> None:
    f = EventFilter.from_query({"product_id": [PRODUCT.upper()]})
    assert f.matches(_event(pool_total("1")))
    assert f.matches(_event(product_status("OPEN")))
    assert not f.matches(_event(pool_total("1", product_id="00000000-0000-4000-8000-000000000000")))
    assert not f.matches(_event(event_status("OFF")))


def test_event_filter_and_type_filter_combine() -> None:
    f = EventFilter.from_query({"event_id": [EVENT], "types": ["event-status"]})
    assert f.matches(_event(event_status("OFF")))
    assert not f.matches(
        _event(event_status("OFF", event_id="HORSERACING-ASCOT-GB-2026-01-31-1400"))
    )
    assert not f.matches(_event(pool_total("1")))


def test_too_many_values_are_refused() -> None:
    with pytest.raises(FilterError, match="too many values"):
        EventFilter.from_query({"product_id": [",".join(str(i) for i in range(500))]})


def test_filters_are_hashable_for_the_dispatcher_cache() -> None:
    a = EventFilter.from_query({"types": ["pool-total"]})
    b = EventFilter.from_query({"types": ["pool-total"]})
    assert hash(a) == hash(b) and a == b


def _named_pool(context: dict[str, Any]) -> Event:
    return make_event(parse_message(*pool_total("1")), 1, context)


def test_a_race_selects_its_pools_through_the_reference_data() -> None:
    race = EventFilter.from_query({"event_id": [f"OTHER,{EVENT}"]})
    assert race.matches(_named_pool({"event_id": EVENT}))
    assert race.matches(_named_pool({"event_id": "LEG1", "event_ids": ["LEG1", EVENT]}))
    assert race.matches(_event(event_status("OFF")))
    assert not race.matches(_event(pool_total("1")))  # race not known yet: not this race's


def test_venue_and_bet_type_select_several_values_from_the_reference_data() -> None:
    f = EventFilter.from_query({"venue": ["newcastle", "Ascot"], "bet_type": ["win,place"]})
    assert f.venues == frozenset({"newcastle", "ascot"})
    assert f.bet_types == frozenset({"WIN", "PLACE"})
    assert f.matches(_named_pool({"venue": "Newcastle", "bet_type": "WIN"}))
    assert not f.matches(_named_pool({"venue": "Newcastle", "bet_type": "EXACTA"}))
    assert not f.matches(_named_pool({"venue": "Kempton", "bet_type": "WIN"}))
    assert not f.matches(_event(pool_total("1")))
