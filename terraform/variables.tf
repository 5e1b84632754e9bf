# Inputs. project_id, region and runbook_base_url are required; everything else has a default that
# suits a single production project (terraform.tfvars.example shows the usual settings). No variable carries a secret: secret values go straight into
# Secret Manager (docs/deployment.md), never through Terraform.

variable "project_id" {
  type        = string
  description = "Google Cloud project that hosts everything."
}

variable "region" {
  type        = string
  description = "Region for Cloud Run, Dataflow, Scheduler, Artifact Registry and the bucket (e.g. europe-west2, London)."
}

variable "labels" {
  type        = map(string)
  description = "Extra labels on every resource that takes them (app = tote-realtime is always set)."
  default     = {}
}

# --- images -----------------------------------------------------------------------------------------

variable "artifact_repository" {
  type        = string
  description = "Artifact Registry Docker repository for the three images."
  default     = "tote"
}

variable "connector_image" {
  type        = string
  description = "Connector image reference; make tf-plan passes the tag make build-and-push pushed."
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "webapp_image" {
  type        = string
  description = "Web app image reference; make tf-plan passes the tag make build-and-push pushed."
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

# --- Pub/Sub ----------------------------------------------------------------------------------------

variable "ingress_topic_retention" {
  type        = string
  description = "How long the ingress topic keeps frames (acknowledged or not) for seek-based replays."
  default     = "604800s"
}

variable "typed_topic_retention" {
  type        = string
  description = "How long the typed topics keep messages: at least the web app's replay window (WEBAPP_REPLAY_WINDOW_MINUTES, 30 min)."
  default     = "3600s"
}

variable "reference_topic_retention" {
  type        = string
  description = "How long the reference topic keeps messages, so a new web app subscription can seek back to the racing day's names."
  default     = "86400s"
}

variable "ingress_max_delivery_attempts" {
  type        = number
  description = "Deliveries of one ingress frame before Pub/Sub moves it to the dead-letter topic (5-100); 0 removes the policy."
  default     = 20

  validation {
    condition     = var.ingress_max_delivery_attempts == 0 || (var.ingress_max_delivery_attempts >= 5 && var.ingress_max_delivery_attempts <= 100)
    error_message = "ingress_max_delivery_attempts must be 0 (no policy) or between 5 and 100."
  }
}

# --- BigQuery ---------------------------------------------------------------------------------------

variable "bigquery_location" {
  type        = string
  description = "BigQuery dataset location (a region such as europe-west2, or EU)."
  default     = "europe-west2"
}

variable "partition_expiration_days" {
  type        = number
  description = "Days a daily partition is kept; 0 keeps data forever."
  default     = 0
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy tables holding data (set false only to tear a test project down)."
  default     = true
}

# --- Cloud Run --------------------------------------------------------------------------------------

variable "connector_watchdog_seconds" {
  type        = number
  description = "Longest GraphQL silence the connector tolerates before reconnecting (it reconnects after three keep-alive intervals when that is shorter: 15 s with Tote's 5 s)."
  default     = 30
}

variable "connector_operators" {
  type        = list(string)
  description = "Emails (users or service accounts) allowed to call the connector's control API besides Cloud Scheduler."
  default     = []
}

variable "webapp_public" {
  type        = bool
  description = "Let browsers reach the web app without Google credentials (access tokens still apply)."
  default     = true
}

variable "webapp_market_data_open" {
  type        = bool
  description = "WEBAPP_MARKET_DATA_OPEN: serve the market streams to clients without a token (bet-lifecycle always needs one)."
  default     = false
}

variable "webapp_trusted_proxy_hops" {
  type        = number
  description = "WEBAPP_TRUSTED_PROXY_HOPS: proxies appending to X-Forwarded-For (Cloud Run's front end: 1; behind an external Application Load Balancer: 2)."
  default     = 1
}

variable "webapp_reorder_ms" {
  type        = number
  description = "SSE_REORDER_MS: how long the web app holds events to release them in id order on every instance (50 meets the latency target; 100-150 protects more against Pub/Sub delivery jitter, for 50-100 ms more latency; 0: none). docs/webapp.md."
  default     = 50

  validation {
    condition     = var.webapp_reorder_ms >= 0 && var.webapp_reorder_ms <= 1000 && floor(var.webapp_reorder_ms) == var.webapp_reorder_ms
    error_message = "webapp_reorder_ms must be a whole number of milliseconds from 0 to 1000."
  }
}

variable "webapp_concurrency" {
  type        = number
  description = "Concurrent requests (mostly open SSE streams) per web app instance."
  default     = 1000
}

variable "webapp_min_instances" {
  type        = number
  description = "Web app instances kept warm."
  default     = 1
}

variable "webapp_max_instances" {
  type        = number
  description = "Upper bound on web app instances (each holds one set of Pub/Sub subscriptions)."
  default     = 5
}

variable "webapp_topic_prefix" {
  type        = string
  description = "WEBAPP_TOPIC_PREFIX: prefix of the typed topic names the web app subscribes to (the pipeline's --topic_prefix)."
  default     = ""
}

variable "webapp_cors_origins" {
  type        = list(string)
  description = "Origins allowed to open SSE streams from another site."
  default     = []
}

# --- Scheduler --------------------------------------------------------------------------------------

variable "connector_window_start_hour" {
  type        = number
  description = "Hour (Europe/London) the racing window opens: Scheduler's /start, and a connector instance booting after it connects by itself (AUTOSTART_WINDOW)."
  default     = 6

  validation {
    condition     = var.connector_window_start_hour >= 0 && var.connector_window_start_hour <= 23
    error_message = "connector_window_start_hour must be an hour, 0-23."
  }
}

variable "connector_window_end_hour" {
  type        = number
  description = "Hour (Europe/London) the racing window closes: Scheduler's /stop, and a still-connected instance disconnects by itself."
  default     = 23

  validation {
    condition     = var.connector_window_end_hour > var.connector_window_start_hour && var.connector_window_end_hour <= 24
    error_message = "connector_window_end_hour must be after the start hour, at most 24."
  }
}

# --- Dataflow ---------------------------------------------------------------------------------------

variable "dataflow_bucket" {
  type        = string
  description = "Bucket for Dataflow staging/temp files and the flex template spec (default: <project_id>-tote-dataflow)."
  default     = null
}

variable "dataflow_job_enabled" {
  type        = bool
  description = "Let Terraform launch and update the streaming job from the flex template (otherwise make dataflow-run does)."
  default     = false
}

variable "dataflow_job_name" {
  type        = string
  description = "Streaming job name; stable, so updates replace the job in place (the Makefile uses the same)."
  default     = "tote-pipeline"
}

variable "dataflow_max_workers" {
  type        = number
  description = "Autoscaling ceiling of the streaming job."
  default     = 3
}

variable "dataflow_machine_type" {
  type        = string
  description = "Worker machine type."
  default     = "n2-standard-2"
}

# --- monitoring -------------------------------------------------------------------------------------

variable "alert_emails" {
  type        = list(string)
  description = "Email addresses notified by every alert policy."
  default     = []
}

variable "notification_channel_ids" {
  type        = list(string)
  description = "Existing notification channels (projects/P/notificationChannels/N) to notify as well."
  default     = []
}

variable "webapp_5xx_per_second" {
  type        = number
  description = "Alert when the web app answers more 5xx than this per second for 5 minutes."
  default     = 0.1
}

variable "webapp_429_per_second" {
  type        = number
  description = "Alert when the web app refuses more streams (429) than this per second for 10 minutes."
  default     = 1
}

variable "webapp_dropped_clients_threshold" {
  type        = number
  description = "Alert when more SSE clients than this are dropped as too slow within 5 minutes."
  default     = 20
}

variable "webapp_backlog_age_threshold_s" {
  type        = number
  description = "Alert when a live web app instance leaves a typed event unacknowledged longer than this."
  default     = 60
}

variable "runbook_base_url" {
  type        = string
  description = "Where this repository is browsable (e.g. its web view of the main branch); alert texts link to <this>/docs/operations.md. Required: a wrong default would send on-call to a page that does not exist."

  validation {
    condition     = can(regex("^https://[^ ]+[^/]$", var.runbook_base_url))
    error_message = "runbook_base_url must be an https:// URL without a trailing slash."
  }
}

variable "racing_hours_utc" {
  type        = object({ start = number, end = number })
  description = "UTC hours [start, end) in which ingress silence is an alert (UK racing, GMT and BST)."
  default     = { start = 12, end = 21 }
}

variable "connector_silence_minutes" {
  type        = number
  description = "Minutes without an ingress frame that count as silence during racing hours."
  default     = 10
}

variable "backlog_age_threshold_s" {
  type        = number
  description = "Alert when the oldest unacknowledged ingress frame is older than this (seconds)."
  default     = 300
}

variable "dead_letter_threshold" {
  type        = number
  description = "Alert when more dead letters than this arrive in 5 minutes."
  default     = 0
}

variable "system_lag_threshold_s" {
  type        = number
  description = "Alert when the Dataflow job's system lag exceeds this (seconds)."
  default     = 120
}
