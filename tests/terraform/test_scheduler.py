"""Cloud Scheduler starts the connector at 06:00 and stops it at 23:00, UK time, with OIDC."""

from __future__ import annotations

from tests.terraform.hcl import block, load


def _jobs() -> dict[str, dict]:
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
            "time_zone": job["time_zone"],
            "method": target["http_method"],
            "uri": target["uri"].replace("${each.value.path}", entry["path"]),
            "oidc": block(target, "oidc_token"),
        }
    return out


def _cron_hour_minute(cron: str) -> tuple[int, int]:
    minute, hour, day, month, weekday = cron.split()
    assert (day, month, weekday) == ("*", "*", "*"), f"{cron!r} must run every day"
    return int(hour), int(minute)


def test_start_at_six_and_stop_at_eleven_pm() -> None:
    jobs = _jobs()
    assert set(jobs) == {"start", "stop"}
    assert _cron_hour_minute(jobs["start"]["schedule"]) == (6, 0)
    assert _cron_hour_minute(jobs["stop"]["schedule"]) == (23, 0)


def test_times_are_uk_local_not_utc() -> None:
    for job in _jobs().values():
        assert job["time_zone"] == "Europe/London"


def test_calls_the_control_api_with_post_and_an_oidc_token() -> None:
    for key, job in _jobs().items():
        assert job["method"] == "POST"
        assert job["uri"] == f"${{local.connector_url}}/{key}"
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
