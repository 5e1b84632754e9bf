"""Cloud Scheduler starts the connector at 06:00 and stops it at 23:00, UK time, with OIDC."""

from __future__ import annotations

from typing import Any

from tests.terraform.hcl import block, load


def _jobs() -> dict[str, dict[str, Any]]:
    """The scheduler jobs as Terraform would expand them: key → resolved attributes."""
    config = load()
    job = config.resource("google_cloud_scheduler_job", "connector")
    assert job["for_each"] == "${local.connector_schedule}"
    out = {}
    for key, entry in config.locals["connector_schedule"].items():
        target = block(job, "http_target")
        out[key] = {
            "name": config.evaluate(job["name"], each_key=key),
            "schedule": config.evaluate(entry["cron"]),
            "time_zone": config.locals["connector_time_zone"]
            if job["time_zone"] == "${local.connector_time_zone}"
            else job["time_zone"],
            "method": target["http_method"],
            "uri": target["uri"].replace("${each.value.path}", entry["path"]),
            "oidc": block(target, "oidc_token"),
        }
    return out


def _expand(field: str, low: int, high: int) -> set[int]:
    """The values one cron field matches (``*``, ``a-b``, ``*/n``, ``a-b/n``, lists)."""
    out: set[int] = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            start, end = low, high
        elif "-" in rng:
            start, end = (int(x) for x in rng.split("-"))
        else:
            start = end = int(rng)
        out.update(range(start, end + 1, int(step or 1)))
    return out


def _times(cron: str) -> set[tuple[int, int]]:
    """(hour, minute) pairs of a daily cron schedule."""
    minute, hour, day, month, weekday = cron.split()
    assert (day, month, weekday) == ("*", "*", "*"), f"{cron!r} must run every day"
    return {(h, m) for h in _expand(hour, 0, 23) for m in _expand(minute, 0, 59)}


def test_start_at_six_and_stop_at_eleven_pm() -> None:
    jobs = _jobs()
    assert _times(jobs["start"]["schedule"]) == {(6, 0)}
    assert _times(jobs["stop"]["schedule"]) == {(23, 0)}
    assert jobs["start"]["uri"].endswith("/start") and jobs["stop"]["uri"].endswith("/stop")


def test_only_start_stop_and_an_in_window_ensure() -> None:
    """The repeated /start keeps a restarted instance connected, never outside 06:00-23:00."""
    jobs = _jobs()
    assert set(jobs) == {"start", "stop", "ensure"}
    ensure = _times(jobs["ensure"]["schedule"])
    assert ensure, "ensure must run"
    assert all((6, 0) <= t < (23, 0) for t in ensure)
    assert jobs["ensure"]["uri"].endswith("/start")


def test_cron_reader_is_not_vacuous() -> None:
    assert _times("*/10 6-22 * * *") >= {(6, 0), (22, 50)}
    assert (23, 0) not in _times("*/10 6-22 * * *")
    assert _times("0 23 * * *") == {(23, 0)}


def test_times_are_uk_local_not_utc() -> None:
    for job in _jobs().values():
        assert job["time_zone"] == "Europe/London"


def test_calls_the_control_api_with_post_and_an_oidc_token() -> None:
    for key, job in _jobs().items():
        assert job["method"] == "POST"
        assert job["uri"] == "${local.connector_url}/" + ("start" if key == "ensure" else key)
        assert job["oidc"]["service_account_email"] == "${google_service_account.scheduler.email}"
        # The audience the connector checks (OIDC_AUDIENCE) is the same URL.
        assert job["oidc"]["audience"] == "${local.connector_url}"


def test_connector_checks_the_same_audience_and_invoker() -> None:
    config = load()
    env = {
        e["name"]: e.get("value")
        for e in config.resource("google_cloud_run_v2_service", "connector")["template"][0][
            "containers"
        ][0]["env"]
    }
    assert env["OIDC_AUDIENCE"] == "${local.connector_url}"
    assert env["ALLOWED_INVOKERS"] == '${join(",", local.connector_invokers)}'
    assert "google_service_account.scheduler.email" in config.locals["connector_invokers"]
    assert config.locals["connector_url"].startswith("https://tote-connector-")


def test_connector_autostarts_in_the_same_window_and_zone_as_the_jobs() -> None:
    """AUTOSTART_WINDOW is built from the same hour variables as the start/stop crons."""
    config = load()
    container = config.resource("google_cloud_run_v2_service", "connector")["template"][0][
        "containers"
    ][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AUTOSTART"] == "true"
    assert env["AUTOSTART_TIME_ZONE"] == "${local.connector_time_zone}"
    window = env["AUTOSTART_WINDOW"]
    assert "var.connector_window_start_hour" in window and "var.connector_window_end_hour" in window
    start = config.variable_default("connector_window_start_hour")
    end = config.variable_default("connector_window_end_hour")
    jobs = _jobs()
    assert _times(jobs["start"]["schedule"]) == {(start, 0)}
    assert _times(jobs["stop"]["schedule"]) == {(end % 24, 0)}
    from connector.window import parse_window

    parsed = parse_window(f"{start:02d}:00-{end:02d}:00", jobs["start"]["time_zone"])
    assert (parsed.start.hour, parsed.end.hour if parsed.end else 24) == (start, end)


def test_runbook_url_is_required_and_the_example_tfvars_sets_every_required_variable() -> None:
    from tests.terraform.hcl import TERRAFORM, parse_file

    config = load()
    required = {name for name, body in config.variables.items() if "default" not in body}
    assert "runbook_base_url" in required
    example = parse_file(TERRAFORM / "terraform.tfvars.example")
    passed_by_make = {"project_id", "region"}
    assert required - passed_by_make <= set(example), required - set(example)
    assert set(example) <= set(config.variables), set(example) - set(config.variables)
