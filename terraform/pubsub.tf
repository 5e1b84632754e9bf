# Pub/Sub: the ingress topic the connector publishes raw frames to, the pipeline's subscription
# to it, the eight typed topics and the reference topic the web app listens to, and the
# dead-letter topic.

resource "google_pubsub_topic" "ingress" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  name = local.catalog.ingress_topic

  # Topic retention lets an operator seek the pipeline's subscription back in time and replay
  # frames after a bad deploy, even ones already acknowledged.
  message_retention_duration = var.ingress_topic_retention

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "typed" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  for_each = local.catalog.typed_topics

  name   = each.key
  labels = { stream = each.value.stream }

  # A new web app instance seeks its fresh subscriptions back over its replay window
  # (WEBAPP_REPLAY_WINDOW_MINUTES) to rebuild its history and /state: the topic must keep that long.
  message_retention_duration = var.typed_topic_retention

  depends_on = [google_project_service.enabled]
}

# Reference entities (events, products, legs, selections, competitors) the pipeline learns from
# query sweeps; the web app names its cards from them. Topic retention lets a web app instance
# that starts mid-day seek its new subscription back and learn the day's names.
resource "google_pubsub_topic" "reference" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  name = local.catalog.reference_topic

  message_retention_duration = var.reference_topic_retention

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letters" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  name = local.catalog.dead_letter_topic

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "ingress_pipeline" {
  name  = local.catalog.ingress_subscription
  topic = google_pubsub_topic.ingress.id

  # Dataflow extends deadlines itself; this only matters between worker restarts.
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  # Never expire: the subscription must outlive a drained or stopped job, so frames published
  # while no pipeline runs wait for the next one.
  expiration_policy {
    ttl = ""
  }

  # Backstop only. The pipeline dead-letters what it cannot parse or validate itself (with the
  # reason); this policy catches a frame Dataflow never manages to acknowledge at all, so one
  # poison message cannot be redelivered forever. Such messages arrive on the dead-letter topic
  # with Pub/Sub's CloudPubSubDeadLetter* attributes instead of the pipeline's record format.
  dynamic "dead_letter_policy" {
    for_each = var.ingress_max_delivery_attempts > 0 ? [1] : []
    content {
      dead_letter_topic     = google_pubsub_topic.dead_letters.id
      max_delivery_attempts = var.ingress_max_delivery_attempts
    }
  }
}

# Pub/Sub drops messages published to a topic nobody subscribes to: this subscription keeps
# every dead letter for a week so an operator can inspect or replay it (the dead_letters table
# has the same records for SQL).
resource "google_pubsub_subscription" "dead_letters_hold" {
  name  = "${local.catalog.dead_letter_topic}-hold"
  topic = google_pubsub_topic.dead_letters.id

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# --- what the Pub/Sub service agent needs for the dead-letter policy ------------------------------
# It forwards the undeliverable message (publisher on the dead-letter topic) and acknowledges it
# on the source subscription (subscriber on that subscription).

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letters.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_ingress_subscriber" {
  subscription = google_pubsub_subscription.ingress_pipeline.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
