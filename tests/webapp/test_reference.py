from __future__ import annotations

from webapp.reference import ReferenceRegistry, local_start, race_label

RACE = "HORSERACING-NEWCASTLE-GB-2026-06-01-1430"
PRODUCT = "3F1C6A9E-0B4D-4C1E-9A57-2D6F4F1B7C10"


def _registry() -> ReferenceRegistry:
    ref = ReferenceRegistry()
    ref.apply(
        "event",
        RACE,
        10,
        {"venue": "Newcastle", "name": "Novice Stakes", "scheduled_start": "2026-06-01T13:30:00Z"},
    )
    ref.apply("product", PRODUCT, 10, {"bet_type": "WIN", "event_id": RACE, "event_ids": [RACE]})
    ref.apply("competitor", f"{RACE}-SEA-THE-STARS", 10, {"name": "Sea The Stars"})
    return ref


def test_start_times_are_shown_on_the_london_clock() -> None:
    assert local_start("2026-06-01T13:30:00Z") == "14:30"  # BST
    assert local_start("2026-12-01T13:30:00.000Z") == "13:30"  # GMT
    assert local_start("not a time") is None and local_start(None) is None


def test_labels_leave_out_what_is_unknown() -> None:
    assert race_label("Newcastle", "2026-06-01T13:30:00Z", "WIN") == "Newcastle 14:30 · WIN"
    assert race_label("Newcastle", None) == "Newcastle"
    assert race_label(None, None, "WIN") == "WIN"
    assert race_label(None, None) is None


def test_a_pool_is_named_and_joined_to_its_race() -> None:
    context = _registry().context({"product_id": PRODUCT.lower()})
    assert context is not None
    assert context["event_id"] == RACE and context["venue"] == "Newcastle"
    assert context["bet_type"] == "WIN" and context["label"] == "Newcastle 14:30 · WIN"
    assert context["event_name"] == "Novice Stakes" and context["event_ids"] == [RACE]


def test_runners_are_named_and_unknown_entities_get_no_context() -> None:
    ref = _registry()
    context = ref.context({"event_id": RACE, "competitor_id": f"{RACE}-SEA-THE-STARS"})
    assert context is not None and context["competitor_name"] == "Sea The Stars"
    assert context["label"] == "Newcastle 14:30"
    assert ref.context({"product_id": "unknown"}) is None


def test_an_older_version_never_replaces_a_newer_one() -> None:
    ref = _registry()
    assert ref.apply("event", RACE, 20, {"venue": "Newcastle (AW)"})
    assert not ref.apply("event", RACE, 15, {"venue": "stale"})
    assert ref.get("event", RACE).values["venue"] == "Newcastle (AW)"  # type: ignore[union-attr]  # applied just above
    assert ref.get("product", PRODUCT.lower()) is not None  # UUIDs compare lower-cased


def test_a_pool_without_event_id_takes_its_first_legs_race() -> None:
    """The pipeline's product values carry ``event_ids`` (every leg's race, in order) only."""
    ref = _registry()
    ref.apply("product", "p2", 10, {"bet_type": "PLACEPOT", "event_ids": [RACE, "LATER-RACE"]})
    context = ref.context({"product_id": "p2"})
    assert context is not None and context["event_id"] == RACE
    assert context["event_ids"] == [RACE, "LATER-RACE"]
    assert context["label"] == "Newcastle 14:30 · PLACEPOT"
