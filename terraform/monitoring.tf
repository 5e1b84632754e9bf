# Dashboard and alerts. What each alert means and what to do: docs/operations.md (the anchors
# below link each policy to its section).

locals {
  runbook = "${var.runbook_base_url}/docs/operations.md"

  notification_channels = concat(
    [for c in google_monitoring_notification_channel.email : c.id],
    var.notification_channel_ids,
  )

  ingress_topic_filter = "resource.type = \"pubsub_topic\" AND resource.label.topic_id = \"${google_pubsub_topic.ingress.name}\""
  dead_letter_filter   = "resource.type = \"pubsub_topic\" AND resource.label.topic_id = \"${google_pubsub_topic.dead_letters.name}\""
  ingress_sub_filter   = "resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = \"${google_pubsub_subscription.ingress_pipeline.name}\""
  dataflow_job_filter  = "resource.type = \"dataflow_job\" AND resource.label.job_name = \"${var.dataflow_job_name}\""

  # PromQL's hour() is UTC: racing_hours_utc is a UTC window (docs/operations.md explains the
  # choice across GMT and BST).
  connector_silent_query = <<-EOT
    (sum(rate(pubsub_googleapis_com:topic_send_message_operation_count{monitored_resource="pubsub_topic",topic_id="${google_pubsub_topic.ingress.name}"}[${var.connector_silence_minutes}m])) or vector(0)) == 0
    and on() (hour() >= ${var.racing_hours_utc.start} and hour() < ${var.racing_hours_utc.end})
  EOT

  dashboard_charts = [
    {
      title  = "Ingress frames published / s (connector)"
      filter = "metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND ${local.ingress_topic_filter}"
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      by     = []
    },
    {
      title  = "Ingress oldest unacked message age (s)"
      filter = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.ingress_sub_filter}"
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      by     = []
    },
    {
      title  = "Dataflow system lag (s)"
      filter = "metric.type = \"dataflow.googleapis.com/job/system_lag\" AND ${local.dataflow_job_filter}"
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      by     = []
    },
    {
      title  = "Dataflow data watermark age (s)"
      filter = "metric.type = \"dataflow.googleapis.com/job/data_watermark_age\" AND ${local.dataflow_job_filter}"
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      by     = []
    },
    {
      title  = "Typed topics: messages published / s"
      filter = "metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type = \"pubsub_topic\" AND resource.label.topic_id = one_of(${join(",", [for t in local.typed_topics : "\"${t}\""])})"
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      by     = ["resource.label.topic_id"]
    },
    {
      title  = "Dead letters published / s"
      filter = "metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND ${local.dead_letter_filter}"
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      by     = []
    },
    {
      title  = "Connector instances"
      filter = "metric.type = \"run.googleapis.com/container/instance_count\" AND resource.type = \"cloud_run_revision\" AND resource.label.service_name = \"${google_cloud_run_v2_service.connector.name}\""
      align  = "ALIGN_MAX"
      reduce = "REDUCE_SUM"
      by     = []
    },
    {
      title  = "Web app requests / s (SSE connects included)"
      filter = "metric.type = \"run.googleapis.com/request_count\" AND resource.type = \"cloud_run_revision\" AND resource.label.service_name = \"${google_cloud_run_v2_service.webapp.name}\""
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      by     = []
    },
  ]
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "tote-realtime alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_monitoring_dashboard" "tote" {
  dashboard_json = jsonencode({
    displayName = "tote-realtime"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, chart in local.dashboard_charts : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = chart.filter
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = chart.align
                      crossSeriesReducer = chart.reduce
                      groupByFields      = chart.by
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })

  depends_on = [google_project_service.enabled]
}

# --- connector down: its /health stops answering ---------------------------------------------------

resource "google_monitoring_uptime_check_config" "connector" {
  display_name = "tote-connector /health"
  timeout      = "10s"
  period       = "60s"

  http_check {
    path         = "/health"
    port         = 443
    use_ssl      = true
    validate_ssl = true

    # The service is private: the check calls it with an OIDC token of the Monitoring service
    # agent, which holds roles/run.invoker on the connector (below).
    service_agent_authentication {
      type = "OIDC_TOKEN"
    }
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimprefix(local.connector_url, "https://")
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_cloud_run_v2_service_iam_member" "uptime_check_invokes_connector" {
  name     = google_cloud_run_v2_service.connector.name
  location = google_cloud_run_v2_service.connector.location
  role     = "roles/run.invoker"
  member   = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

resource "google_monitoring_alert_policy" "connector_down" {
  display_name          = "tote: connector down"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "CRITICAL"

  conditions {
    display_name = "connector /health failing"
    condition_threshold {
      filter          = "metric.type = \"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type = \"uptime_url\" AND metric.label.check_id = \"${google_monitoring_uptime_check_config.connector.uptime_check_id}\""
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
    content   = "The connector's /health has failed from more than one checker region for 5 minutes. Runbook: ${local.runbook}#connector-down"
  }
}

# --- connector silent: no frames reach the ingress topic during racing hours ----------------------

resource "google_monitoring_alert_policy" "connector_silent" {
  display_name          = "tote: connector silent during racing hours"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "no ingress frames for ${var.connector_silence_minutes} min (${var.racing_hours_utc.start}:00-${var.racing_hours_utc.end}:00 UTC)"
    condition_prometheus_query_language {
      query               = local.connector_silent_query
      duration            = "60s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Nothing has been published to ${google_pubsub_topic.ingress.name} for ${var.connector_silence_minutes} minutes while racing is expected. Runbook: ${local.runbook}#connector-silent"
  }
}

# --- ingress backlog: the pipeline is not keeping up or not running --------------------------------

resource "google_monitoring_alert_policy" "ingress_backlog" {
  display_name          = "tote: ingress backlog growing old"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "oldest unacked ingress frame older than ${var.backlog_age_threshold_s}s"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.ingress_sub_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_age_threshold_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Frames wait on ${google_pubsub_subscription.ingress_pipeline.name} longer than ${var.backlog_age_threshold_s}s. Runbook: ${local.runbook}#ingress-backlog"
  }
}

# --- dead letters arriving -------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "tote: dead letters arriving"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "WARNING"

  conditions {
    display_name = "messages published to ${google_pubsub_topic.dead_letters.name}"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND ${local.dead_letter_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.dead_letter_threshold
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
    content   = "More than ${var.dead_letter_threshold} dead letters in 5 minutes. Runbook: ${local.runbook}#dead-letters"
  }
}

# --- Dataflow system lag -----------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dataflow_lag" {
  display_name          = "tote: Dataflow system lag high"
  combiner              = "OR"
  notification_channels = local.notification_channels
  severity              = "ERROR"

  conditions {
    display_name = "system lag of ${var.dataflow_job_name} above ${var.system_lag_threshold_s}s"
    condition_threshold {
      filter          = "metric.type = \"dataflow.googleapis.com/job/system_lag\" AND ${local.dataflow_job_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.system_lag_threshold_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An element has waited in ${var.dataflow_job_name} longer than ${var.system_lag_threshold_s}s. Runbook: ${local.runbook}#dataflow-lag"
  }
}
