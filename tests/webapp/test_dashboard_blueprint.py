"""The dashboard in a real headless Chromium, fed through the Pub/Sub emulator and gunicorn."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from devstack.provision import WEBAPP_TOPIC_RETENTION, ensure_topics
from devstack.pubsub_emulator import PubSubEmulator
from tests.webapp.browser import chromium, chromium_binary
from tests.webapp.messages import (
    EVENT,
    PRODUCT,
    WEBAPP_TOPICS,
    event_status,
    pool_total,
    product_status,
    reference,
    typed_message,
)
from tests.webapp.servers import webapp_server

pytestmark = [pytest.mark.browser, pytest.mark.emulator, pytest.mark.slow]


def test_dashboard_shows_live_pool_updates(
    pubsub_emulator: PubSubEmulator, project: str, logs_dir: Path
) -> None:
    chromium_binary()  # skip (or fail under CI) before starting anything
    prefix = f"d{uuid.uuid4().hex[:8]}-"
    ensure_topics(
        project, [f"{prefix}{t}" for t in WEBAPP_TOPICS], retention=WEBAPP_TOPIC_RETENTION
    )
    publisher = pubsub_v1.PublisherClient()

    def publish(*messages: tuple[bytes, dict[str, str], str]) -> None:
        for data, attributes, topic in messages:
            publisher.publish(
                publisher.topic_path(project, prefix + topic),
                data,
                **attributes,  # type: ignore[arg-type]  # str attributes (mypy: retry=)
            ).result(timeout=30)

    env = {
        "GOOGLE_CLOUD_PROJECT": project,
        "WEBAPP_TOPIC_PREFIX": prefix,
        "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
    }
    with webapp_server(logs_dir, "webapp-dashboard", **env) as app, chromium(logs_dir) as page:
        page.navigate(app.url("/"))
        page.wait_for("document.querySelector('#connection').classList.contains('live')")
        assert page.evaluate("document.querySelector('#connection').textContent.trim()") == "Live"

        card = f"document.querySelector('.pool[data-product-id=\"{PRODUCT}\"]')"
        publish(product_status("OPEN"), pool_total("6645.4"))
        page.wait_for(f"{card} && {card}.querySelector('.pool-gross').textContent === '£6,645.40'")
        assert page.evaluate(f"{card}.querySelector('.pool-id').textContent") == PRODUCT[:8]
        page.wait_for(f"{card}.querySelector('.pool-status').textContent === 'OPEN'")

        publish(pool_total("7012.9"))  # the live update
        page.wait_for(f"{card}.querySelector('.pool-gross').textContent === '£7,012.90'")
        assert page.evaluate(f"{card}.querySelector('svg.spark').dataset.points") == "2"

        second = "0d2b4c6e-1111-4222-8333-944455556666"
        publish(
            pool_total("1520", product_id=second),
            product_status("CLOSED", product_id=second),
            event_status("OFF"),
            typed_message(
                "EventResultChanged",
                {
                    "event_id": EVENT,
                    "result_status": "FINAL",
                    "competitor_results": [
                        {
                            "competitor_id": "7c1e2a90-aaaa",
                            "finishing_position": "1",
                            "status": "RUNNER",
                        },
                        {
                            "competitor_id": "3b9d0f11-bbbb",
                            "finishing_position": "2",
                            "status": "RUNNER",
                        },
                    ],
                },
            ),
        )
        race = f"document.querySelector('.race[data-event-id=\"{EVENT}\"]')"
        page.wait_for(f"{race} && {race}.querySelector('.results').children.length === 2")
        # No reference data yet: named from the race slug.
        assert page.evaluate(f"{race}.querySelector('.race-title').textContent") == (
            "Newcastle 19:25"
        )
        assert page.evaluate(f"{race}.querySelector('.race-sub').textContent").startswith(
            "31 Jan 2026"
        )
        page.wait_for("document.querySelectorAll('.pool').length === 2")
        publish(
            typed_message(
                "SelectionStatusChanged",
                {
                    "product_id": PRODUCT,
                    "leg_id": "l1",
                    "selection_id": "5e1a",
                    "status": "UNAVAILABLE",
                },
            ),
            typed_message(
                "PoolDividendChanged",
                {
                    "product_id": PRODUCT,
                    "dividends": [
                        {
                            "name": "Base",
                            "type": "POOL",
                            "status": "FINAL",
                            "amount": "12.40",
                            "currency": "GBP",
                            "selection_ids": ["7c1e2a90-aaaa"],
                        }
                    ],
                },
            ),
        )
        page.wait_for(f"{card}.querySelector('.dividends').textContent.includes('£12.40')")
        page.wait_for(f"{card}.querySelector('.pool-foot').textContent.includes('1 unavailable')")
        for seconds, amount in enumerate(("7140.25", "7391", "7800.5"), start=8):
            publish(pool_total(amount, received_at=f"2026-11-26T14:03:{seconds:02d}.000Z"))
        page.wait_for(f"{card}.querySelector('svg.spark').dataset.points === '5'")
        # Pub/Sub may deliver out of order: an older total joins the chart but is not shown.
        publish(pool_total("5000", received_at="2026-11-26T14:01:00.000Z"))
        page.wait_for(f"{card}.querySelector('svg.spark').dataset.points === '6'")
        assert page.evaluate(f"{card}.querySelector('.pool-gross').textContent") == "£7,800.50"
        assert page.evaluate("Number(document.querySelector('#meter-events').textContent)") >= 11

        # Reference data names the cards, the results and the feed.
        publish(
            reference(
                "event",
                EVENT,
                {
                    "venue": "Newcastle",
                    "name": "Novice Stakes",
                    "scheduled_start": "2026-01-31T19:25:00Z",
                },
            ),
            reference("product", PRODUCT, {"bet_type": "WIN", "event_id": EVENT}),
            reference("competitor", "7c1e2a90-aaaa", {"name": "Sea The Stars"}),
        )
        page.wait_for(f"{card}.querySelector('.pool-id').textContent === 'Newcastle 19:25 · WIN'")
        page.wait_for(f"{race}.querySelector('.race-sub').textContent === 'Novice Stakes'")
        page.wait_for(f"{race}.querySelector('.results').textContent.includes('Sea The Stars')")
        publish(pool_total("8000", received_at="2026-11-26T14:05:00.000Z"))  # the newest
        page.wait_for(
            "document.querySelector('#feed li .what').textContent"
            " === 'Newcastle 19:25 · WIN gross £8,000.00'"
        )
        page.screenshot(logs_dir / "dashboard.png")

        # A fresh page draws the present from /state at once, named, without new events.
        page.navigate(app.url("/"))
        page.wait_for("document.querySelector('#connection').classList.contains('live')")
        page.wait_for(f"{card} && {card}.querySelector('.pool-gross').textContent === '£8,000.00'")
        assert page.evaluate(f"{card}.querySelector('.pool-id').textContent") == (
            "Newcastle 19:25 · WIN"
        )
        assert page.evaluate("document.querySelectorAll('.pool').length") == 2
        assert page.evaluate(f"{race}.querySelector('.results').children.length") == 2
        page.screenshot(logs_dir / "dashboard-from-state.png")

        # The page's selectors apply to /state and the stream: one race's WIN pool only.
        page.navigate(app.url(f"/?event_id={EVENT}&bet_type=WIN"))
        page.wait_for("document.querySelector('#connection').classList.contains('live')")
        page.wait_for(f"{card} && {card}.querySelector('.pool-gross').textContent === '£8,000.00'")
        assert page.evaluate("document.querySelectorAll('.pool').length") == 1
        # The other pool's update is released first (earlier id), so once the later one shows,
        # the stream has passed it: it was filtered out, not just not yet arrived.
        publish(pool_total("1", product_id=second, received_at="2026-11-26T14:05:59.000Z"))
        publish(pool_total("9000", received_at="2026-11-26T14:06:00.000Z"))
        page.wait_for(f"{card}.querySelector('.pool-gross').textContent === '£9,000.00'")
        assert page.evaluate("document.querySelectorAll('.pool').length") == 1
