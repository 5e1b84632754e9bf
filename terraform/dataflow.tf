# The streaming job, launched from the flex template that `make template-build` wrote to
# local.template_path. Opt-in (var.dataflow_job_enabled): the documented path launches, updates
# and drains the job with `make dataflow-run/-update/-drain`, which name the same job, template
# and parameters. Let exactly one of the two manage the job: if Terraform does, changing a
# parameter updates the job in place (same name, so Dataflow keeps its state) and destroying
# it drains rather than cancels.

resource "google_dataflow_flex_template_job" "pipeline" {
  provider = google-beta
  count    = var.dataflow_job_enabled ? 1 : 0

  name                    = var.dataflow_job_name
  region                  = var.region
  container_spec_gcs_path = local.template_path
  service_account_email   = google_service_account.dataflow.email
  staging_location        = "gs://${local.dataflow_bucket}/staging"
  temp_location           = "gs://${local.dataflow_bucket}/temp"
  enable_streaming_engine = true
  max_workers             = var.dataflow_max_workers
  machine_type            = var.dataflow_machine_type
  on_delete               = "drain"

  parameters = {
    ingress_subscription = google_pubsub_subscription.ingress_pipeline.id
    pubsub_project       = var.project_id
    bq_project           = var.project_id
    dataset              = google_bigquery_dataset.tote.dataset_id
  }

  depends_on = [
    google_project_iam_member.dataflow_worker,
    google_pubsub_subscription_iam_member.dataflow_read_ingress,
    google_pubsub_subscription_iam_member.dataflow_view_ingress,
    google_pubsub_topic_iam_member.dataflow_publish_typed,
    google_pubsub_topic_iam_member.dataflow_publish_dead_letters,
    google_bigquery_dataset_iam_member.dataflow_write_tables,
    google_storage_bucket_iam_member.dataflow_bucket,
    google_artifact_registry_repository_iam_member.dataflow_pull_images,
  ]
}
