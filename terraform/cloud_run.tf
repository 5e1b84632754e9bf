# The two HTTP services.
#
# Connector: one instance, always allocated CPU (cpu_idle = false) and never scaled to zero, so
# the Tote websocket lives between control requests; Scheduler opens and closes the socket
# through POST /start and /stop. max 1 instance: two would both subscribe and double the traffic.
# Not public: callers need roles/run.invoker (Scheduler, the uptime check, listed operators).
#
# Web app: SSE responses are long-lived, so requests may last the Cloud Run maximum of an hour
# (clients reconnect with Last-Event-ID), each instance holds many idle streams at once, and
# session affinity keeps a reconnecting browser on the instance it knows.

locals {
  connector_invokers = concat([google_service_account.scheduler.email], var.connector_operators)

  # The deterministic run.app URL, known before the service exists, so the connector can be
  # told the audience its callers' OIDC tokens must carry (Scheduler uses the same value).
  connector_url = "https://tote-connector-${data.google_project.this.number}.${var.region}.run.app"
}

resource "google_cloud_run_v2_service" "connector" {
  name                = "tote-connector"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account                  = google_service_account.connector.email
    timeout                          = "60s"
    max_instance_request_concurrency = 10

    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }

    containers {
      image = var.connector_image

      ports {
        container_port = 8080
      }

      resources {
        cpu_idle          = false
        startup_cpu_boost = true
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }

      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "INGRESS_TOPIC"
        value = google_pubsub_topic.ingress.name
      }
      env {
        name  = "ALLOWED_INVOKERS"
        value = join(",", local.connector_invokers)
      }
      env {
        name  = "OIDC_AUDIENCE"
        value = local.connector_url
      }
      env {
        name  = "WATCHDOG_SECONDS"
        value = tostring(var.connector_watchdog_seconds)
      }
      env {
        name  = "AUTOSTART"
        value = "true"
      }
      env {
        # the dead-letter file lives in the instance's memory: Cloud Logging keeps the frames
        name  = "DEAD_LETTER_LOG_FRAMES"
        value = "true"
      }
      env {
        name  = "AUTOSTART_WINDOW"
        value = format("%02d:00-%02d:00", var.connector_window_start_hour, var.connector_window_end_hour)
      }
      env {
        name  = "AUTOSTART_TIME_ZONE"
        value = local.connector_time_zone
      }
      env {
        name = "TOTE_API_KEY"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.this["api_key"].secret_id
            version = "latest"
          }
        }
      }
      env {
        name = "TOTE_SUBSCRIPTIONS_URL"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.this["subscriptions_url"].secret_id
            version = "latest"
          }
        }
      }
      # Tote's HTTPS query gateway: the reconciliation sweeps (docs/connector.md).
      env {
        name = "TOTE_GRAPHQL_URL"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.this["graphql_url"].secret_id
            version = "latest"
          }
        }
      }

      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 5
        failure_threshold = 12
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 30
        failure_threshold = 3
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.connector_api_key,
    google_secret_manager_secret_iam_member.connector_subscriptions_url,
    google_secret_manager_secret_iam_member.connector_graphql_url,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "connector_operators" {
  for_each = toset(var.connector_operators)

  name     = google_cloud_run_v2_service.connector.name
  location = google_cloud_run_v2_service.connector.location
  role     = "roles/run.invoker"
  member   = endswith(each.value, ".gserviceaccount.com") ? "serviceAccount:${each.value}" : "user:${each.value}"
}

resource "google_cloud_run_v2_service" "webapp" {
  name                = "tote-webapp"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account                  = google_service_account.webapp.email
    timeout                          = "3600s"
    max_instance_request_concurrency = var.webapp_concurrency
    session_affinity                 = true

    scaling {
      min_instance_count = var.webapp_min_instances
      max_instance_count = var.webapp_max_instances
    }

    containers {
      image = var.webapp_image

      ports {
        container_port = 8080
      }

      resources {
        # Streams are written from background threads between requests.
        cpu_idle = false
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }

      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "WEBAPP_TOPIC_PREFIX"
        value = var.webapp_topic_prefix
      }
      env {
        name  = "CORS_ORIGINS"
        value = join(",", var.webapp_cors_origins)
      }
      # Access tokens' keyring (JSON {"<kid>": "<key>"}, docs/webapp.md#access): market and
      # private (bet-lifecycle) streams are granted per token.
      env {
        name = "WEBAPP_TOKEN_KEYS"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.this["webapp_token_keys"].secret_id
            version = "latest"
          }
        }
      }
      env {
        name  = "WEBAPP_MARKET_DATA_OPEN"
        value = tostring(var.webapp_market_data_open)
      }
      # Cloud Run's request log records the full URL: never accept ?access_token= here.
      env {
        name  = "WEBAPP_QUERY_TOKENS"
        value = "false"
      }
      # Cloud Run's front end appends the client's address to X-Forwarded-For: one trusted hop
      # (two behind an external Application Load Balancer). Per-client stream limits use it.
      env {
        name  = "WEBAPP_TRUSTED_PROXY_HOPS"
        value = tostring(var.webapp_trusted_proxy_hops)
      }
      # The id-order hold: latency against cross-instance order (docs/webapp.md).
      env {
        name  = "SSE_REORDER_MS"
        value = tostring(var.webapp_reorder_ms)
      }

      # Readiness: 200 once every typed topic is subscribed.
      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 5
        failure_threshold = 12
      }

      # Liveness: the process answers and its dispatcher runs (not Pub/Sub's health: an
      # outage there must not restart every instance and drop every stream).
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.webapp_token_keys]
}

# Browsers must reach /events without Google credentials; access tokens guard the streams.
resource "google_cloud_run_v2_service_iam_member" "webapp_public" {
  count = var.webapp_public ? 1 : 0

  name     = google_cloud_run_v2_service.webapp.name
  location = google_cloud_run_v2_service.webapp.location
  role     = "roles/run.invoker"
  member   = "allUsers"
}
