"""The example query pages use only fields the sweep's query documents select."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contract import queries
from testsupport import query_examples as q


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        (
            "products",
            q.products_page(q.product_node(result_status="FINAL", dividends=[q.dividend_line()])),
        ),
        (
            "events",
            q.events_page(
                q.event_node(result_status="FINAL", results=[(q.COMPETITOR_ID, "1", "FINAL")]),
                q.event_node(competitors=[q.competitor_node(cloth_number=None, trap_number=2)]),
            ),
        ),
    ],
)
def test_example_pages_only_use_selected_fields(operation: str, body: dict[str, Any]) -> None:
    selected = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", queries.OPERATIONS[operation]))
    assert keys(body) - {"data", "errors"} - selected == set()
    assert queries.page_info(body, operation) == (False, "cursor-1")
