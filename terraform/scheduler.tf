# Start the connector at 06:00 and stop it at 23:00 UK time. The time zone is Europe/London,
# not UTC, so the window follows the clocks through BST. Each call carries an OIDC token of the
# scheduler account whose audience is the service URL: Cloud Run checks roles/run.invoker and
# the connector checks the token's email against ALLOWED_INVOKERS.
#
# "ensure" repeats POST /start (idempotent: "already running") inside the window, because Cloud
# Run may replace the instance at any time (maintenance, a new revision) and a fresh instance
# does not connect on its own: without it a restart at 10:00 would mean no data until tomorrow.

#
# The window's hours are the same variables the connector's AUTOSTART_WINDOW is built from
# (cloud_run.tf), so a booting instance and Scheduler agree on when racing is on.

locals {
  connector_time_zone = "Europe/London"
  connector_schedule = {
    start = {
      cron = "0 ${var.connector_window_start_hour} * * *"
      path = "/start"
      what = "Open the Tote websocket"
    }
    stop = {
      cron = "0 ${var.connector_window_end_hour % 24} * * *"
      path = "/stop"
      what = "Close the Tote websocket"
    }
    ensure = {
      cron = "*/10 ${var.connector_window_start_hour}-${var.connector_window_end_hour - 1} * * *"
      path = "/start"
      what = "Reopen the Tote websocket if a restarted instance lost it"
    }
  }
}

resource "google_cloud_scheduler_job" "connector" {
  for_each = local.connector_schedule

  name             = "tote-connector-${each.key}"
  description      = "${each.value.what} (tote-realtime)."
  region           = var.region
  schedule         = each.value.cron
  time_zone        = local.connector_time_zone
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 5
    min_backoff_duration = "10s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = "${local.connector_url}${each.value.path}"

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.connector_url
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.scheduler_invokes_connector]
}
