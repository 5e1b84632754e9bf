"""Property-based fuzzing of the pure core: whatever arrives, ``process_frame`` never raises, its
outcome is typed / raw-only / a dead letter with a known stage, and every row and message it
leads to is one BigQuery and Pub/Sub accept (see ``hostile.outcome_problems``).

Bounded so the suite takes seconds; ``HYPOTHESIS_PROFILE=deep`` runs 50x more examples.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contract import catalog, ingress
from pipeline.core import process_frame
from tests.fuzz import hostile
from testsupport import examples, query_examples

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("deep", parent=settings.get_profile("ci"), max_examples=7500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

NOW = datetime(2026, 11, 26, 14, 3, 7, 123000, tzinfo=UTC)


def _check(data: bytes, attrs: dict[str, str]):
    frame = process_frame(data, attrs, message_id="m-1", now=NOW)
    problems = hostile.outcome_problems(frame)
    assert problems == [], problems
    return frame


@given(hostile.messages())
def test_any_hostile_message_has_a_valid_outcome(message):
    _check(*message)


@given(hostile.catalog_frames(), st.sampled_from(ingress.PROTOCOLS))
def test_mutated_catalog_messages_are_typed_or_validate_dead_letters(frame_and_sub, protocol):
    data, subscription = frame_and_sub
    _, attrs = examples.ingress_message(data, subscription=subscription, protocol=protocol)
    frame = _check(data, attrs)
    if frame.dead_letter is not None:  # good attributes: only the frame itself can be wrong
        assert frame.dead_letter.stage in ("parse", "graphql_error", "unknown_type", "validate")


@given(hostile.error_frames())
def test_graphql_errors_are_graphql_error_or_parse_dead_letters(data):
    frame = _check(*examples.ingress_message(data))
    assert frame.dead_letter is not None
    assert frame.dead_letter.stage in ("graphql_error", "parse", "unknown_type", "validate")


@given(hostile.timestamps())
def test_any_received_at_gives_valid_rows(received_at):
    data, attrs = examples.ingress_message(examples.frame("ProductStatusChanged"))
    attrs[ingress.ATTR_RECEIVED_AT] = received_at
    frame = _check(data, attrs)
    try:
        canonical = ingress.canonical_timestamp(received_at)
    except ValueError:
        assert frame.dead_letter is not None and frame.dead_letter.stage == "contract"
    else:
        assert frame.dead_letter is None and frame.received_at == canonical


def _competitor_page(**details):
    node = query_examples.event_node(competitors=[query_examples.competitor_node(**details)])
    return query_examples.query_page_message(query_examples.events_page(node), "events")


@example(_competitor_page(cloth_number=2**64))  # found by this test: a poison pill downstream
@example(_competitor_page(trap_number="1e999999999"))  # would build a billion-digit int
@given(hostile.query_pages())
def test_mutated_query_pages_have_a_valid_outcome(message):
    _check(*message)


@given(hostile.deep_frames())
def test_deep_nesting_is_a_parse_dead_letter_or_processed(data):
    _check(*examples.ingress_message(data))


@settings(max_examples=12)
@given(hostile.big_frames(), hostile.attributes())
def test_big_frames_are_oversized_dead_letters_that_fit(data, attrs):
    frame = _check(data, attrs)
    if len(data) > ingress.MAX_FRAME_BYTES and frame.dead_letter is not None:
        assert frame.dead_letter.stage in ("contract", "oversized")


_PATHS = [
    (spec, path)
    for spec in catalog.CATALOG
    for path in hostile.paths(examples.example_message(spec.name))
]


@pytest.mark.parametrize(
    ("spec", "path"), _PATHS, ids=[f"{s.name}:{'.'.join(map(str, p))}" for s, p in _PATHS]
)
def test_every_wrong_type_at_every_path_of_every_catalog_type(spec, path):
    """Exhaustive, not random: each of ``hostile.WRONG_TYPES`` (and removal) at each path."""
    message = examples.example_message(spec.name)
    column = _STRICT.get((spec.name, path))
    for wrong in (*hostile.WRONG_TYPES, hostile._DELETE):
        bad = hostile.replaced(message, path, wrong)
        for protocol in ingress.PROTOCOLS:
            data = examples.frame(spec.name, bad, protocol=protocol)
            frame = _check(*examples.ingress_message(data, subscription=spec.field))
            if frame.dead_letter is not None:
                assert frame.dead_letter.stage == "validate", frame.dead_letter
            elif column is not None:  # ids and statuses: a string, or absent when optional
                absent = wrong is None or wrong is hostile._DELETE
                ok_string = isinstance(wrong, str) and bool(wrong.strip())
                assert ok_string or (absent and not column.required), f"{column.name}: {wrong!r}"


_STRICT = {
    (spec.name, tuple(source.split("."))): column
    for spec in catalog.CATALOG
    for column in spec.columns
    if column.kind in (catalog.Kind.ID, catalog.Kind.SLUG, catalog.Kind.ENUM)
    for source in column.sources
}
"""(type, payload path) → its id/slug/status column: these take strings only."""
