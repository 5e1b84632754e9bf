output "connector_url" {
  description = "Connector control API (private: call with an identity token)."
  value       = google_cloud_run_v2_service.connector.uri
}

output "webapp_url" {
  description = "Web app (dashboard and /events)."
  value       = google_cloud_run_v2_service.webapp.uri
}

output "image_repository" {
  description = "Docker repository the images are pushed to (the Makefile's IMAGE_REPO)."
  value       = local.image_repo
}

output "dataflow_bucket" {
  description = "Bucket for Dataflow staging/temp files and the flex template spec."
  value       = google_storage_bucket.dataflow.name
}

output "template_path" {
  description = "Where make template-build writes the flex template spec."
  value       = local.template_path
}

output "ingress_subscription" {
  description = "Full name of the pipeline's ingress subscription."
  value       = google_pubsub_subscription.ingress_pipeline.id
}

output "dataset" {
  description = "BigQuery dataset."
  value       = google_bigquery_dataset.tote.dataset_id
}

output "views" {
  description = "Analyst views created from pipeline/sql/views/*.sql and views/derived/*.sql."
  value       = sort(concat(keys(google_bigquery_table.view), keys(google_bigquery_table.derived_view)))
}

output "service_accounts" {
  description = "Service account e-mail of each component."
  value = {
    connector = google_service_account.connector.email
    dataflow  = google_service_account.dataflow.email
    webapp    = google_service_account.webapp.email
    scheduler = google_service_account.scheduler.email
  }
}

output "secrets" {
  description = "Secret Manager secrets whose values must be added with gcloud secrets versions add."
  value       = { for k, s in google_secret_manager_secret.this : k => s.secret_id }
}
