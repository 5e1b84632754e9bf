# One service account per component, each with only what that component does:
#
#   connector  publishes frames to the ingress topic; reads the API key and subscriptions URL
#   dataflow   runs the workers: reads the ingress subscription, publishes typed, reference and
#              dead-letter messages, streams into the dataset, uses its bucket, pulls the
#              launcher image
#   webapp     creates, reads and deletes its own per-instance subscriptions to the typed
#              topics and the reference topic; reads the SSE token
#   scheduler  invokes the connector's /start and /stop (OIDC), nothing else
#
# Every grant is on the narrowest resource that works (topic, subscription, secret, dataset,
# bucket, repository, service); only dataflow.worker and the web app's subscription role are
# project-level, because the resources they cover do not exist until run time.
# tests/terraform/test_iam.py holds the expected table and fails on any extra or missing grant.

resource "google_service_account" "connector" {
  account_id   = "tote-connector"
  display_name = "tote-realtime connector (Cloud Run)"
}

resource "google_service_account" "dataflow" {
  account_id   = "tote-dataflow"
  display_name = "tote-realtime pipeline workers (Dataflow)"
}

resource "google_service_account" "webapp" {
  account_id   = "tote-webapp"
  display_name = "tote-realtime web app (Cloud Run)"
}

resource "google_service_account" "scheduler" {
  account_id   = "tote-scheduler"
  display_name = "tote-realtime connector start/stop (Cloud Scheduler)"
}

# --- connector ------------------------------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "connector_publish_ingress" {
  topic  = google_pubsub_topic.ingress.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.connector.member
}

resource "google_secret_manager_secret_iam_member" "connector_api_key" {
  secret_id = google_secret_manager_secret.this["api_key"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.connector.member
}

resource "google_secret_manager_secret_iam_member" "connector_subscriptions_url" {
  secret_id = google_secret_manager_secret.this["subscriptions_url"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.connector.member
}

# --- dataflow workers (and the flex-template launcher, which runs as the same account) ------------

resource "google_project_iam_member" "dataflow_worker" {
  project = var.project_id
  role    = "roles/dataflow.worker"
  member  = google_service_account.dataflow.member
}

resource "google_pubsub_subscription_iam_member" "dataflow_read_ingress" {
  subscription = google_pubsub_subscription.ingress_pipeline.id
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.dataflow.member
}

# The Pub/Sub source reads the subscription's metadata (to find its topic) before pulling.
resource "google_pubsub_subscription_iam_member" "dataflow_view_ingress" {
  subscription = google_pubsub_subscription.ingress_pipeline.id
  role         = "roles/pubsub.viewer"
  member       = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_publish_typed" {
  for_each = google_pubsub_topic.typed

  topic  = each.value.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_publish_reference" {
  topic  = google_pubsub_topic.reference.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.dataflow.member
}

resource "google_pubsub_topic_iam_member" "dataflow_publish_dead_letters" {
  topic  = google_pubsub_topic.dead_letters.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.dataflow.member
}

resource "google_bigquery_dataset_iam_member" "dataflow_write_tables" {
  dataset_id = google_bigquery_dataset.tote.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.dataflow.member
}

resource "google_storage_bucket_iam_member" "dataflow_bucket" {
  bucket = google_storage_bucket.dataflow.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.dataflow.member
}

resource "google_artifact_registry_repository_iam_member" "dataflow_pull_images" {
  repository = google_artifact_registry_repository.images.name
  location   = google_artifact_registry_repository.images.location
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.dataflow.member
}

# --- web app --------------------------------------------------------------------------------------
# Subscriptions are created per instance at start-up with generated names, so the permissions
# to create, read, consume and delete them can only be granted on the project. The custom role
# holds exactly those four (roles/pubsub.editor would also let it publish anywhere and delete
# topics). Attaching a subscription is granted per typed topic, so it cannot subscribe to the
# ingress or dead-letter topic.

resource "google_project_iam_custom_role" "webapp_subscriptions" {
  role_id     = "toteWebappSubscriptions"
  title       = "tote-realtime web app subscriptions"
  description = "Create, read, consume and delete its own Pub/Sub subscriptions."
  permissions = [
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
  ]
}

resource "google_project_iam_member" "webapp_subscriptions" {
  project = var.project_id
  role    = google_project_iam_custom_role.webapp_subscriptions.id
  member  = google_service_account.webapp.member
}

resource "google_pubsub_topic_iam_member" "webapp_attach_typed" {
  for_each = google_pubsub_topic.typed

  topic  = each.value.id
  role   = "roles/pubsub.subscriber"
  member = google_service_account.webapp.member
}

resource "google_pubsub_topic_iam_member" "webapp_attach_reference" {
  topic  = google_pubsub_topic.reference.id
  role   = "roles/pubsub.subscriber"
  member = google_service_account.webapp.member
}

resource "google_secret_manager_secret_iam_member" "webapp_token_keys" {
  secret_id = google_secret_manager_secret.this["webapp_token_keys"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.webapp.member
}

# --- scheduler ------------------------------------------------------------------------------------

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_connector" {
  name     = google_cloud_run_v2_service.connector.name
  location = google_cloud_run_v2_service.connector.location
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
