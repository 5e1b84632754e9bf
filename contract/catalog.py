"""The message catalog: the single source of truth for every Tote subscription message.

Everything that must agree about a message type is derived from here, and nowhere else:

* the connector's subscriptions (root field and GraphQL selection, one operation each),
* the pipeline's classification, validation, entity keys and BigQuery rows,
* the eight typed Pub/Sub topics and the web app's stream names,
* the BigQuery tables and their schemas (created by ``python -m pipeline.tables``),
* the Terraform configuration, which the tests check against this module.

The module is plain data and imports nothing heavy, so the connector, the web app and the
Terraform tests use it without Beam.

Payload shapes follow ``shared/tote-api.md``.  Several are guesses (``confidence="guess"``), so
every column lists the payload paths it may come from (first present wins), only fields that are
sure are required, and the untouched message object is always kept in the ``payload`` column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "BET_TYPES",
    "CATALOG",
    "COMMON_COLUMNS",
    "DATASET",
    "DEAD_LETTER_TABLE",
    "DEAD_LETTER_TOPIC",
    "INGRESS_SUBSCRIPTION",
    "INGRESS_TOPIC",
    "RAW_TABLE",
    "REFERENCE_COLUMNS",
    "REFERENCE_KINDS",
    "REFERENCE_TABLES",
    "REFERENCE_TOPIC",
    "SELECTION_STATUS_SYNONYMS",
    "TABLES",
    "TOPICS",
    "Column",
    "Kind",
    "MessageType",
    "TableSpec",
    "TypedTopic",
    "by_field",
    "by_name",
    "by_topic",
    "selection_status",
    "subscription_document",
    "table_schema",
]

DATASET = "tote"
"""Default BigQuery dataset."""

INGRESS_TOPIC = "tote-ingress"
"""The one topic the connector publishes raw frames to."""

INGRESS_SUBSCRIPTION = "tote-ingress-pipeline"
"""The pipeline's subscription to the ingress topic."""

DEAD_LETTER_TOPIC = "tote-dead-letters"
"""Everything the pipeline could not process, with the reason."""

REFERENCE_TOPIC = "tote-reference"
"""Reference entities (events, products, legs, selections, competitors) learnt from query sweeps:
``data`` = ``{"kind", "id", "as_of", "values"}``; attributes ``kind``, ``entity_id``,
``event_id`` (when known), ``frame_id``, ``as_of``.  The web app names its cards from them."""

REFERENCE_KINDS: tuple[str, ...] = ("event", "product", "leg", "selection", "competitor")

REFERENCE_TABLES: dict[str, str] = {kind: f"reference_{kind}s" for kind in REFERENCE_KINDS}
"""Append-only history table of each reference kind; every row carries ``reference_kind``."""

RAW_TABLE = "raw_frames"
DEAD_LETTER_TABLE = "dead_letters"


class Kind(StrEnum):
    """How a payload value is normalised into a column (see ``pipeline.normalize``)."""

    ID = "id"  # UUID / hex id: stripped, lower-cased
    SLUG = "slug"  # opaque readable id (eventId, competitorId): stripped, case kept
    TEXT = "text"  # free text, kept as is
    ENUM = "enum"  # status-like value: stripped, upper-cased ("Active" -> "ACTIVE")
    BOOL = "bool"
    MONEY_LIST = "money_list"  # [{decimalAmount, currency{code}}] -> [{amount, currency}]
    MONEY_AMOUNT = "money_amount"  # Money -> exact decimal (NUMERIC)
    MONEY_CURRENCY = "money_currency"  # Money -> currency code
    DIVIDENDS = "dividends"  # PoolDividendChanged.dividends -> flat records
    RESULTS = "results"  # EventResultChanged competitor results -> records


@dataclass(frozen=True, slots=True)
class Column:
    """One BigQuery column of a typed table and where its value comes from in the payload.

    ``sources`` are dotted payload paths in camelCase; the first one present wins, which is how
    the catalog tolerates the guessed shapes (PascalCase keys are accepted by the normaliser).
    ``synonyms`` map a normalised value to the one the column stores (``ACTIVE`` → ``AVAILABLE``)
    when the stream and the query name the same state differently; the payload keeps the original.
    """

    name: str
    bq_type: str
    kind: Kind | None = None
    sources: tuple[str, ...] = ()
    required: bool = False
    mode: str = "NULLABLE"
    fields: tuple[Column, ...] = ()
    description: str = ""
    synonyms: tuple[tuple[str, str], ...] = ()

    def to_api(self) -> dict[str, Any]:
        """The column as a BigQuery API ``TableFieldSchema`` dict."""
        out: dict[str, Any] = {"name": self.name, "type": self.bq_type, "mode": self.mode}
        if self.description:
            out["description"] = self.description
        if self.fields:
            out["fields"] = [f.to_api() for f in self.fields]
        return out


def _money_record(name: str, source: str, description: str) -> Column:
    return Column(
        name,
        "RECORD",
        Kind.MONEY_LIST,
        (source,),
        mode="REPEATED",
        description=description,
        fields=(
            Column("amount", "NUMERIC", description="Exact decimal amount."),
            Column("currency", "STRING", description="ISO 4217 code, e.g. GBP."),
        ),
    )


COMMON_COLUMNS: tuple[Column, ...] = (
    Column("frame_id", "STRING", mode="REQUIRED", description="Connector frame id (ingress)."),
    Column("received_at", "TIMESTAMP", mode="REQUIRED", description="When the connector got it."),
    Column("message_type", "STRING", mode="REQUIRED", description="Tote message type."),
    Column("connection_id", "STRING", description="Connector websocket connection id."),
    Column("ingested_at", "TIMESTAMP", mode="REQUIRED", description="When the pipeline built it."),
    Column("payload", "STRING", mode="REQUIRED", description="The message object as JSON text."),
    Column(
        "source",
        "STRING",
        description="subscription (a websocket frame) or query (derived from a sweep page).",
    ),
    Column(
        "as_of",
        "TIMESTAMP",
        description="When the state held: received_at for frames, the request start for queries.",
    ),
)
"""Columns every typed table starts with; ``payload`` keeps unknown fields for later."""

_MONEY = "{ decimalAmount currency { code } }"


@dataclass(frozen=True, slots=True)
class TypedTopic:
    """One of the eight typed Pub/Sub topics; ``stream`` is its SSE event name in the web app."""

    name: str
    stream: str
    description: str


TOPICS: tuple[TypedTopic, ...] = (
    TypedTopic("tote-pool-total-changed", "pool-total", "Pool totals (gross/net) per product."),
    TypedTopic("tote-product-status-changed", "product-status", "Product (pool) open/closed."),
    TypedTopic("tote-event-status-changed", "event-status", "Race status transitions."),
    TypedTopic("tote-event-result-changed", "event-result", "Race results."),
    TypedTopic("tote-pool-dividend-changed", "pool-dividend", "Pool dividends."),
    TypedTopic("tote-selection-status-changed", "selection-status", "Selection availability."),
    TypedTopic("tote-competitor-status-changed", "competitor-status", "Runners, non-runners."),
    TypedTopic("tote-bet-lifecycle", "bet-lifecycle", "All six Bet* messages."),
)


@dataclass(frozen=True, slots=True)
class MessageType:
    """A Tote subscription message type.

    ``topic`` and ``table`` are ``None`` for types that are subscribed and stored raw only
    (their payloads are undocumented).  ``key_columns`` name the entity whose latest state the
    message carries; the semantic deduplication key is the type name plus those values.
    ``attribute_columns`` become Pub/Sub attributes on the typed topic so subscribers can filter.
    """

    name: str
    field: str
    selection: str
    topic: str | None
    table: str | None
    columns: tuple[Column, ...] = ()
    key_columns: tuple[str, ...] = ()
    attribute_columns: tuple[str, ...] = ()
    confidence: str = "sure"
    description: str = ""

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @property
    def stream(self) -> str | None:
        """The web app's SSE event name for this type (its topic's stream)."""
        return next((t.stream for t in TOPICS if t.name == self.topic), None)


_STATUS_DOC = "Status as sent, upper-cased."

SELECTION_STATUS_SYNONYMS: tuple[tuple[str, str], ...] = (
    ("ACTIVE", "AVAILABLE"),
    ("INACTIVE", "NOT_AVAILABLE"),
    ("SUSPENDED", "NOT_AVAILABLE"),
)
"""A selection's status in the query's vocabulary, whichever side sent it.  A GUESS: Tote's
subscription docs show only ``"Active"`` as an example, the gateway schema's enum is
AVAILABLE / NOT_AVAILABLE; without this map the same state is ``ACTIVE`` on one side and
``AVAILABLE`` on the other, so the latest status flip-flops and ``sweep_repairs`` reports false
repairs.  Unlisted values pass through upper-cased; ``payload`` keeps what Tote sent."""

_SELECTION_STATUS = dict(SELECTION_STATUS_SYNONYMS)
_SELECTION_STATUS_DOC = (
    "AVAILABLE / NOT_AVAILABLE (upper-cased; the stream's ACTIVE is stored as AVAILABLE, "
    "INACTIVE and SUSPENDED as NOT_AVAILABLE: a guessed synonym map, payload keeps the original)."
)


def selection_status(status: str | None) -> str | None:
    """An upper-cased selection status in the query's vocabulary (see the synonyms above)."""
    return _SELECTION_STATUS.get(status, status) if status is not None else None


def _bet(name: str, selection: str, confidence: str, description: str) -> MessageType:
    return MessageType(
        name=name,
        field=f"on{name}",
        selection=selection,
        topic="tote-bet-lifecycle",
        table="bet_lifecycle",
        columns=_BET_COLUMNS,
        key_columns=("bet_id",),
        attribute_columns=("bet_id",),
        confidence=confidence,
        description=description,
    )


_BET_COLUMNS: tuple[Column, ...] = (
    Column("bet_id", "STRING", Kind.ID, ("betId",), required=True, description="32 hex chars."),
    Column("customer_bet_id", "STRING", Kind.TEXT, ("customerBetId",)),
    Column("reason", "STRING", Kind.TEXT, ("reason",), description="Rejection/failure reason."),
    Column(
        "status",
        "STRING",
        Kind.ENUM,
        ("status", "resultStatus", "settlementStatus", "betStatus"),
        description=_STATUS_DOC,
    ),
    Column("returns_amount", "NUMERIC", Kind.MONEY_AMOUNT, ("returns", "totalReturns", "payout")),
    Column(
        "returns_currency", "STRING", Kind.MONEY_CURRENCY, ("returns", "totalReturns", "payout")
    ),
)

CATALOG: tuple[MessageType, ...] = (
    MessageType(
        name="PoolTotalChanged",
        field="onPoolTotalChanged",
        selection=f"{{ productId isFinalized total {{ grossAmounts {_MONEY} netAmounts {_MONEY} }} }}",
        topic="tote-pool-total-changed",
        table="pool_total_changed",
        columns=(
            Column("product_id", "STRING", Kind.ID, ("productId",), required=True),
            Column("is_finalized", "BOOL", Kind.BOOL, ("isFinalized",)),
            _money_record(
                "gross_amounts", "total.grossAmounts", "Gross pool total, one entry per currency."
            ),
            _money_record(
                "net_amounts", "total.netAmounts", "Net pool total, one entry per currency."
            ),
        ),
        key_columns=("product_id",),
        attribute_columns=("product_id",),
        description="A pool's total changed.",
    ),
    MessageType(
        name="ProductStatusChanged",
        field="onProductStatusChanged",
        selection="{ productId status }",
        topic="tote-product-status-changed",
        table="product_status_changed",
        columns=(
            Column("product_id", "STRING", Kind.ID, ("productId",), required=True),
            Column("status", "STRING", Kind.ENUM, ("status",), required=True),
        ),
        key_columns=("product_id",),
        attribute_columns=("product_id",),
        description="A product (pool) opened, closed or settled.",
    ),
    MessageType(
        name="SelectionStatusChanged",
        field="onSelectionStatusChanged",
        selection="{ productId legId selectionId status }",
        topic="tote-selection-status-changed",
        table="selection_status_changed",
        columns=(
            Column("product_id", "STRING", Kind.ID, ("productId",), required=True),
            Column("leg_id", "STRING", Kind.ID, ("legId",)),
            Column("selection_id", "STRING", Kind.ID, ("selectionId",), required=True),
            Column(
                "status",
                "STRING",
                Kind.ENUM,
                ("status",),
                required=True,
                description=_SELECTION_STATUS_DOC,
                synonyms=SELECTION_STATUS_SYNONYMS,
            ),
        ),
        key_columns=("product_id", "leg_id", "selection_id"),
        attribute_columns=("product_id", "selection_id"),
        description="A selection became available or not.",
    ),
    MessageType(
        name="PoolDividendChanged",
        field="onPoolDividendChanged",
        selection=(
            "{ productId dividends { dividend { name type status amount "
            f"{_MONEY} }} legs {{ legId selections {{ id finishingPosition }} }} }} }}"
        ),
        topic="tote-pool-dividend-changed",
        table="pool_dividend_changed",
        columns=(
            Column("product_id", "STRING", Kind.ID, ("productId",), required=True),
            Column(
                "dividends",
                "RECORD",
                Kind.DIVIDENDS,
                ("dividends",),
                mode="REPEATED",
                description="One entry per dividend; winning selections flattened.",
                fields=(
                    Column("name", "STRING", description="Base / Enhanced."),
                    Column("type", "STRING", description="FIXED / POOL."),
                    Column("status", "STRING", description="PROVISIONAL / FINAL."),
                    Column("amount", "NUMERIC"),
                    Column("currency", "STRING"),
                    Column("selection_ids", "STRING", mode="REPEATED"),
                ),
            ),
        ),
        key_columns=("product_id",),
        attribute_columns=("product_id",),
        confidence="guess",
        description="Provisional or final dividends of a pool.",
    ),
    MessageType(
        name="EventStatusChanged",
        field="onEventStatusChanged",
        selection="{ eventId status }",
        topic="tote-event-status-changed",
        table="event_status_changed",
        columns=(
            Column("event_id", "STRING", Kind.SLUG, ("eventId",), required=True),
            Column("status", "STRING", Kind.ENUM, ("status",), required=True),
        ),
        key_columns=("event_id",),
        attribute_columns=("event_id",),
        confidence="guess",
        description="A race was scheduled, started, finished, delayed or cancelled.",
    ),
    MessageType(
        name="EventResultChanged",
        field="onEventResultChanged",
        selection="{ eventId status competitorResults { competitorId finishingPosition status } }",
        topic="tote-event-result-changed",
        table="event_result_changed",
        columns=(
            Column("event_id", "STRING", Kind.SLUG, ("eventId",), required=True),
            Column("result_status", "STRING", Kind.ENUM, ("status", "resultStatus")),
            Column(
                "competitor_results",
                "RECORD",
                Kind.RESULTS,
                ("competitorResults", "results"),
                mode="REPEATED",
                fields=(
                    Column("competitor_id", "STRING"),
                    Column("finishing_position", "STRING", description="As sent, e.g. '1'."),
                    Column("status", "STRING"),
                ),
            ),
        ),
        key_columns=("event_id",),
        attribute_columns=("event_id",),
        confidence="guess",
        description="A race's (provisional or final) result.",
    ),
    MessageType(
        name="CompetitorStatusChanged",
        field="onCompetitorStatusChanged",
        selection="{ eventId competitorId status }",
        topic="tote-competitor-status-changed",
        table="competitor_status_changed",
        columns=(
            Column("event_id", "STRING", Kind.SLUG, ("eventId",), required=True),
            Column("competitor_id", "STRING", Kind.SLUG, ("competitorId",), required=True),
            Column("status", "STRING", Kind.ENUM, ("status",), required=True),
        ),
        key_columns=("event_id", "competitor_id"),
        attribute_columns=("event_id", "competitor_id"),
        confidence="guess",
        description="A runner was confirmed or withdrawn (non-runner).",
    ),
    _bet("BetAccepted", "{ betId customerBetId }", "sure", "Tote accepted a bet."),
    _bet("BetRejected", "{ betId customerBetId reason }", "sure", "Tote rejected a bet."),
    _bet("BetFailed", "{ betId customerBetId reason }", "sure", "A bet failed to place."),
    _bet("BetCancelled", "{ betId customerBetId }", "guess", "A bet was cancelled."),
    _bet(
        "BetResulted",
        f"{{ betId customerBetId status returns {_MONEY} }}",
        "guess",
        "A bet was resulted.",
    ),
    _bet("BetSettled", "{ betId customerBetId status }", "guess", "A bet was settled."),
    MessageType(
        name="EventUpdated",
        field="onEventUpdated",
        selection="{ eventId }",
        topic=None,
        table=None,
        confidence="guess",
        description="Undocumented payload: subscribed and kept in raw_frames only.",
    ),
    MessageType(
        name="LinesChanged",
        field="onLinesChanged",
        selection="{ __typename }",
        topic=None,
        table=None,
        confidence="guess",
        description="Undocumented payload: subscribed and kept in raw_frames only.",
    ),
)

BET_TYPES: tuple[str, ...] = tuple(m.name for m in CATALOG if m.topic == "tote-bet-lifecycle")

_BY_NAME = {m.name: m for m in CATALOG}
_BY_FIELD = {m.field: m for m in CATALOG}


def by_name(name: str) -> MessageType | None:
    """The message type called ``name`` (``"PoolTotalChanged"``), or ``None``."""
    return _BY_NAME.get(name)


def by_field(field_name: str) -> MessageType | None:
    """The message type behind a subscription root field (``"onPoolTotalChanged"``), or ``None``."""
    return _BY_FIELD.get(field_name)


def by_topic(topic: str) -> tuple[MessageType, ...]:
    """The message types published to a typed topic."""
    return tuple(m for m in CATALOG if m.topic == topic)


def subscription_document(message_type: MessageType, selection: str | None = None) -> str:
    """The GraphQL subscription operation for one root field (one field per operation)."""
    return f"subscription {message_type.name} {{ {message_type.field} {selection or message_type.selection} }}"


# ---------------------------------------------------------------------------------------------
# Tables


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A BigQuery table: schema, day partitioning and clustering."""

    name: str
    columns: tuple[Column, ...]
    partition_field: str
    clustering: tuple[str, ...]
    description: str
    message_types: tuple[str, ...] = field(default=())

    @property
    def schema(self) -> list[dict[str, Any]]:
        return [c.to_api() for c in self.columns]


RAW_COLUMNS: tuple[Column, ...] = (
    Column("frame_id", "STRING", mode="REQUIRED", description="Connector frame id."),
    Column("received_at", "TIMESTAMP", mode="REQUIRED", description="When the connector got it."),
    Column("connection_id", "STRING"),
    Column("subscription", "STRING", description="Subscription field of the operation."),
    Column("protocol", "STRING", description="graphql-ws or graphql-transport-ws."),
    Column("message_type", "STRING", description="Classified type; NULL when unparseable."),
    Column("data", "STRING", mode="REQUIRED", description="The frame exactly as received."),
    Column("attributes", "STRING", description="All ingress attributes as JSON text."),
    Column("ingested_at", "TIMESTAMP", mode="REQUIRED"),
)

DEAD_LETTER_COLUMNS: tuple[Column, ...] = (
    Column("failed_at", "TIMESTAMP", mode="REQUIRED", description="When processing failed."),
    Column("stage", "STRING", mode="REQUIRED", description="parse, validate, bigquery, ..."),
    Column("reason", "STRING", mode="REQUIRED", description="Why, in one line."),
    Column("stack_trace", "STRING"),
    Column("frame_id", "STRING"),
    Column("received_at", "TIMESTAMP"),
    Column("message_type", "STRING"),
    Column("destination", "STRING", description="Table a failed BigQuery row was meant for."),
    Column("data_base64", "STRING", mode="REQUIRED", description="Original bytes, base64."),
    Column("data_text", "STRING", description="Original bytes as text (lossy if not UTF-8)."),
    Column("attributes", "STRING", description="Original attributes as JSON text."),
)


def _typed_tables() -> Iterator[TableSpec]:
    seen: dict[str, list[MessageType]] = {}
    for m in CATALOG:
        if m.table:
            seen.setdefault(m.table, []).append(m)
    for table, types in seen.items():
        first = types[0]
        yield TableSpec(
            name=table,
            columns=COMMON_COLUMNS + first.columns,
            partition_field="received_at",
            clustering=first.key_columns[:4],
            description="; ".join(sorted({t.description for t in types})),
            message_types=tuple(t.name for t in types),
        )


REFERENCE_COMMON_COLUMNS: tuple[Column, ...] = (
    Column("reference_kind", "STRING", mode="REQUIRED", description="event, product, leg, ..."),
    Column("frame_id", "STRING", mode="REQUIRED", description="Ingress id of the query page."),
    Column("received_at", "TIMESTAMP", mode="REQUIRED", description="When the page arrived."),
    Column(
        "as_of",
        "TIMESTAMP",
        mode="REQUIRED",
        description="When the state held: the request start of the page (orders versions).",
    ),
    Column("ingested_at", "TIMESTAMP", mode="REQUIRED", description="When the pipeline built it."),
)
"""Columns every reference history row starts with (``pipeline.records.reference_row``)."""

REFERENCE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "event": (
        Column("event_id", "STRING", mode="REQUIRED", description="Tote's readable event slug."),
        Column("name", "STRING", description="Race name as Tote sends it."),
        Column("venue", "STRING", description="Venue (course) name."),
        Column("country", "STRING", description="Venue country, ISO 3166 alpha-2 (GB, IE, ...)."),
        Column("scheduled_start", "TIMESTAMP", description="Scheduled off time (UTC)."),
        Column("status", "STRING", description="SCHEDULED / STARTED / FINISHED / ... (upper)."),
    ),
    "product": (
        Column("product_id", "STRING", mode="REQUIRED", description="Product (pool) UUID."),
        Column("name", "STRING", description="e.g. NEWCASTLE RACE 3 - WIN."),
        Column("bet_type", "STRING", description="WIN, PLACE, EXACTA, TRIFECTA, ..."),
        Column("selling_status", "STRING", description="OPEN / CLOSED / UNKNOWN."),
        Column("currency", "STRING", description="Pool currency (from the pool total)."),
        Column(
            "event_id", "STRING", description="The first leg's event (the race of a 1-leg pool)."
        ),
        Column(
            "event_ids",
            "STRING",
            mode="REPEATED",
            description=(
                "Every leg's event, in order, aligned with leg_ids (event_ids[i] is the race of "
                "leg_ids[i]). A page that cannot name every leg and its race writes no product "
                "row (the previous one stands)."
            ),
        ),
        Column("leg_ids", "STRING", mode="REPEATED", description="Leg UUIDs, in leg order."),
    ),
    "leg": (
        Column("leg_id", "STRING", mode="REQUIRED", description="Leg UUID."),
        Column("product_id", "STRING", description="The product the leg belongs to."),
        Column(
            "leg_number",
            "INTEGER",
            description="1-based position of the leg in its product (in the page's legs list).",
        ),
        Column("event_id", "STRING", description="The race the leg is run on."),
    ),
    "selection": (
        Column("selection_id", "STRING", mode="REQUIRED", description="Selection UUID."),
        Column("product_id", "STRING", description="The product the selection belongs to."),
        Column("leg_id", "STRING", description="The leg the selection belongs to."),
        Column("event_id", "STRING", description="The leg's race."),
        Column("name", "STRING", description="Runner name as the product shows it."),
        Column("competitor_id", "STRING", description="The runner (competitor slug)."),
        Column("status", "STRING", description=_SELECTION_STATUS_DOC),
    ),
    "competitor": (
        Column("competitor_id", "STRING", mode="REQUIRED", description="Runner slug."),
        Column("event_id", "STRING", description="The race."),
        Column("name", "STRING", description="Runner name."),
        Column("entry_status", "STRING", description="PROVISIONAL / CONFIRMED / WITHDRAWN."),
        Column("cloth_number", "INTEGER", description="Horse racing: saddle-cloth number."),
        Column("trap_number", "INTEGER", description="Greyhounds: trap number."),
    ),
}
"""The ``values`` of each reference kind, exactly (``pipeline.query_pages`` builds them; the web
app reads them from ``REFERENCE_TOPIC`` messages)."""

_REFERENCE_CLUSTERING: dict[str, tuple[str, ...]] = {
    "event": ("event_id",),
    "product": ("product_id", "event_id"),
    "leg": ("leg_id", "product_id"),
    "selection": ("selection_id", "product_id", "event_id"),
    "competitor": ("competitor_id", "event_id"),
}


def _reference_tables() -> Iterator[TableSpec]:
    for kind in REFERENCE_KINDS:
        yield TableSpec(
            name=REFERENCE_TABLES[kind],
            columns=REFERENCE_COMMON_COLUMNS + REFERENCE_COLUMNS[kind],
            partition_field="received_at",
            clustering=_REFERENCE_CLUSTERING[kind],
            description=(
                f"Reference {kind}s learnt from query sweeps: append-only history, one row per "
                f"{kind} per page; latest_{kind}s has the current version (by as_of)."
            ),
        )


TABLES: dict[str, TableSpec] = {
    RAW_TABLE: TableSpec(
        RAW_TABLE,
        RAW_COLUMNS,
        "received_at",
        ("message_type",),
        "Every frame once (transport duplicates removed): the ingest log for audit and replays.",
    ),
    DEAD_LETTER_TABLE: TableSpec(
        DEAD_LETTER_TABLE,
        DEAD_LETTER_COLUMNS,
        "failed_at",
        ("stage",),
        "Frames and rows that could not be processed, with the reason.",
    ),
    **{t.name: t for t in _typed_tables()},
    **{t.name: t for t in _reference_tables()},
}


def table_schema(table: str) -> list[dict[str, Any]]:
    """BigQuery API schema of ``table``."""
    return TABLES[table].schema
