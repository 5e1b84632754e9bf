"""make run's wiring of the query side: the connector's TOTE_GRAPHQL_URL is the simulator's
query API, or the external server's, or empty (sweeps off) — without starting anything."""

from __future__ import annotations

from devstack.run import tote_endpoints
from devstack.system import LocalSystem, Ports


def test_simulator_serves_both_sides(tmp_path) -> None:
    system = LocalSystem(tmp_path, Ports(simulator=9001, simulator_control=9002))
    env = system.connector_environment()
    assert env["TOTE_SUBSCRIPTIONS_URL"] == "ws://127.0.0.1:9001/partner/connections/graphql/"
    assert env["TOTE_GRAPHQL_URL"] == "http://127.0.0.1:9002/partner/gateway/graphql"
    assert env["TOTE_API_KEY"] == system.api_key and env["SWEEP_HOURS"] == "00:00-24:00"


def test_external_server_for_both_sides_or_sweeps_off(tmp_path) -> None:
    wss, https = (
        "wss://tote.example/partner/connections/graphql/",
        "https://tote.example/partner/gateway/graphql",
    )
    env = {"TOTE_SUBSCRIPTIONS_URL": wss, "TOTE_GRAPHQL_URL": https, "TOTE_API_KEY": "k-1234"}
    assert tote_endpoints(env) == (wss, https, "k-1234")
    assert tote_endpoints({"TOTE_GRAPHQL_URL": https}) == (None, None, None)  # simulator then
    tote_url, graphql_url, key = tote_endpoints(env)
    system = LocalSystem(tmp_path, tote_url=tote_url, graphql_url=graphql_url, api_key=key)
    out = system.connector_environment()
    assert out["TOTE_GRAPHQL_URL"] == https and out["TOTE_SUBSCRIPTIONS_URL"] == wss
    assert "SWEEP_HOURS" not in out  # real racing hours for a real server
    only_ws = LocalSystem(tmp_path / "b", tote_url=wss, api_key=key)
    assert only_ws.connector_environment()["TOTE_GRAPHQL_URL"] == ""


def test_banner_shows_how_to_sweep_without_printing_the_token(tmp_path) -> None:
    from devstack.run import _banner

    system = LocalSystem(tmp_path, Ports(simulator_control=9002), bigquery=False)
    banner = _banner(system)
    assert "/reconcile" in banner and "http://127.0.0.1:9002/partner/gateway/graphql" in banner
    assert system.control_token not in banner
    assert system.control_token_path.read_text() == system.control_token
    assert system.control_token_path.stat().st_mode & 0o777 == 0o600
