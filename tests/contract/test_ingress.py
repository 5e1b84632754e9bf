"""The ingress contract's timestamps: only real RFC 3339 instants with ASCII digits pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract import ingress
from devstack.insert_validation import scalar_problem


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T10:00:00.000Z",  # no such day: the fast path used to let it through
        "2026-13-01T10:00:00.000Z",  # month 13
        "2026-01-01T25:00:00.000Z",  # hour 25
        "2026-01-01T10:60:00.000Z",
        "0000-01-01T00:00:00.000Z",  # year 0
        "٢٠٢٦-01-01T10:00:00.000Z",  # Arabic-Indic digits match \d
        "２０２６-01-01T10:00:00.000Z",  # noqa: RUF001 - fullwidth digits on purpose
        "2026-01-01T10:00:00.000Z\n",
        "2026-01-01T10:00:00",  # no zone
        "2026-01-01",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2026-01-01T10:00:00+24:00",
        "yesterday",
        "",
    ],
)
def test_invalid_timestamps_are_refused(text):
    with pytest.raises(ValueError):
        ingress.canonical_timestamp(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-26T10:15:00.123Z", "2026-11-26T10:15:00.123Z"),
        ("2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z"),
        ("2026-11-26T10:15:00Z", "2026-11-26T10:15:00.000Z"),
        ("2026-11-26T11:15:00.123456789+01:00", "2026-11-26T10:15:00.123Z"),
        ("2026-11-26 10:15:00.5z", "2026-11-26T10:15:00.500Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
    ],
)
def test_valid_timestamps_become_the_contract_form_and_bigquery_accepts_them(text, canonical):
    assert ingress.canonical_timestamp(text) == canonical
    assert scalar_problem("TIMESTAMP", canonical) is None


def test_format_timestamp_pads_the_year():
    # glibc's strftime('%Y') gives '1' for year 1, which is not RFC 3339
    assert ingress.format_timestamp(datetime(1, 2, 3, tzinfo=UTC)) == "0001-02-03T00:00:00.000Z"
