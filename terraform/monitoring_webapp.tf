# Web app monitoring: an uptime check, and alerts on server errors, refused streams, dropped
# clients and its per-instance subscriptions falling behind. Each alert's documentation links
# its runbook section in docs/operations.md ("Web app: ..."). Notification channels and the
# runbook base are monitoring.tf's.

locals {
  webapp_run_filter = "resource.type = \"cloud_run_revision\" AND resource.label.service_name = \"${google_cloud_run_v2_service.webapp.name}\""

  # Every instance subscribes as <topic>.webapp-<epoch>-<6 hex> (webapp/subscriber.py).
  webapp_subscription_filter = "resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = monitoring.regex.full_match(\".+[.]webapp-[0-9a-z]+-[0-9a-f]{6}\")"
}

# --- web app down: /health (readiness) stops answering 200 ----------------------------------------

resource "google_monitoring_uptime_check_config" "webapp" {
  display_name = "tote-webapp /health"
  timeout      = "10s"
  period       = "60s"

  http_check {
    path         = "/health"
    port         = 443
    use_ssl      = true
    validate_ssl = true

    # Works whether or not the service is public (var.webapp_public): the Monitoring service
    # agent holds roles/run.invoker on it (below).
    service_agent_authentication {
      type = "OIDC_TOKEN"
    }
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimprefix(google_cloud_run_v2_service.webapp.uri, "https://")
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_run_v2_service_iam_member" "uptime_check_invokes_webapp" {
  name     = google_cloud_run_v2_service.webapp.name
  location = google_cloud_run_v2_service.webapp.location
  role     = "roles/run.invoker"
  member   = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

resource "google_monitoring_alert_policy" "webapp_down" {
  display_name          = "tote: web app down"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"

  conditions {
    display_name = "web app /health failing"
    condition_threshold {
      filter          = "metric.type = \"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type = \"uptime_url\" AND metric.label.check_id = \"${google_monitoring_uptime_check_config.webapp.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "300s"
      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.host"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The web app's /health has failed from more than one checker region for 5 minutes. Runbook: ${local.runbook}#web-app-down"
  }
}

# --- 5xx rate: instances full (503), shutting down, or failing --------------------------------------

resource "google_monitoring_alert_policy" "webapp_5xx" {
  display_name          = "tote: web app 5xx responses"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "5xx above ${var.webapp_5xx_per_second}/s for 5 min"
    condition_threshold {
      filter          = "metric.type = \"run.googleapis.com/request_count\" AND ${local.webapp_run_filter} AND metric.label.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.webapp_5xx_per_second
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The web app answers more than ${var.webapp_5xx_per_second} 5xx responses per second. Runbook: ${local.runbook}#web-app-5xx-responses"
  }
}

# --- 429 rate: clients over their stream limit -----------------------------------------------------

resource "google_monitoring_alert_policy" "webapp_429" {
  display_name          = "tote: web app refusing streams (429)"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "429 above ${var.webapp_429_per_second}/s for 10 min"
    condition_threshold {
      filter          = "metric.type = \"run.googleapis.com/request_count\" AND ${local.webapp_run_filter} AND metric.label.response_code = \"429\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.webapp_429_per_second
      duration        = "600s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.webapp_429_per_second} streams per second are refused for a client's stream limit. Runbook: ${local.runbook}#web-app-429-responses"
  }
}

# --- dropped clients: streams cut because the client could not keep up ------------------------------

# Counts the structured log field the web app writes when it drops a slow client
# (webapp/runtime.py: jsonPayload.event = "sse-client-dropped").
resource "google_logging_metric" "webapp_dropped_clients" {
  name   = "tote_webapp_dropped_clients"
  filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloud_run_v2_service.webapp.name}\" AND jsonPayload.event = \"sse-client-dropped\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "webapp_dropped_clients" {
  display_name          = "tote: web app dropping slow clients"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "more than ${var.webapp_dropped_clients_threshold} clients dropped in 5 min"
    condition_threshold {
      filter          = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.webapp_dropped_clients.name}\" AND resource.type = \"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.webapp_dropped_clients_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.webapp_dropped_clients_threshold} SSE clients were dropped as too slow in 5 minutes. Runbook: ${local.runbook}#web-app-dropped-clients"
  }
}

# --- subscription backlog: an instance takes typed events too slowly --------------------------------

# Both conditions on the same subscription: old unacked messages AND acks still flowing. An
# instance that died without deleting its subscriptions leaves orphans whose backlog ages until
# they expire; they ack nothing, so they do not page anyone.
resource "google_monitoring_alert_policy" "webapp_subscription_backlog" {
  display_name          = "tote: web app subscriptions falling behind"
  combiner              = "AND_WITH_MATCHING_RESOURCE"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "oldest unacked typed event older than ${var.webapp_backlog_age_threshold_s}s"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.webapp_subscription_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.webapp_backlog_age_threshold_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  conditions {
    display_name = "the subscription is being consumed (a live instance)"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/ack_message_count\" AND ${local.webapp_subscription_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_RATE"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A live web app instance leaves typed events unacknowledged for more than ${var.webapp_backlog_age_threshold_s}s. Runbook: ${local.runbook}#web-app-subscriptions-falling-behind"
  }
}
