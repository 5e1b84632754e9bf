# tote-realtime on Google Cloud.
#
# Names of topics, subscriptions, the dataset and tables (and every table schema) come from
# contract/catalog.py through the generated files in ./generated (make tf-catalog); nothing
# here repeats them, so the catalog stays the single source of truth. One file per concern:
#   apis.tf           services the project must have enabled
#   pubsub.tf         ingress, typed and dead-letter topics, subscriptions, dead-letter policy
#   bigquery.tf       dataset, raw/typed/dead-letter tables, analyst views
#   secrets.tf        Secret Manager containers (values are added out of band)
#   iam.tf            service accounts and their (least) roles
#   storage.tf        Artifact Registry repository and the Dataflow bucket
#   cloud_run.tf      connector and web app services
#   scheduler.tf      06:00 start / 23:00 stop of the connector, Europe/London
#   dataflow.tf       the streaming job from the flex template (opt-in, see variables.tf)
#   monitoring.tf     dashboard, uptime check, alert policies

locals {
  catalog = jsondecode(file("${path.module}/generated/catalog.json"))

  labels = merge({ app = "tote-realtime" }, var.labels)

  typed_topics = keys(local.catalog.typed_topics)

  # Topics the pipeline publishes to: the eight typed ones, reference data and dead letters.
  pipeline_output_topics = concat(
    local.typed_topics, [local.catalog.reference_topic, local.catalog.dead_letter_topic]
  )

  # Analyst views: one per SQL file, so a new view needs no Terraform change. Views in derived/
  # also read the others (latest_*), so they are created after them.
  views_dir = "${path.module}/../pipeline/sql/views"
  view_files = {
    for f in fileset(local.views_dir, "*.sql") : trimsuffix(f, ".sql") => "${local.views_dir}/${f}"
  }
  derived_view_files = {
    for f in fileset("${local.views_dir}/derived", "*.sql") :
    trimsuffix(f, ".sql") => "${local.views_dir}/derived/${f}"
  }

  dataflow_bucket = coalesce(var.dataflow_bucket, "${var.project_id}-tote-dataflow")
  template_path   = "gs://${local.dataflow_bucket}/templates/tote-pipeline.json"
  image_repo      = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}"
}

data "google_project" "this" {
  project_id = var.project_id
}
