# BigQuery: one dataset; the raw, typed and dead-letter tables with the catalog's schemas
# (day-partitioned on event time, clustered on entity ids, money as NUMERIC); the analyst views.
# The pipeline streams into these tables with CREATE_NEVER: Terraform owns their shape.

resource "google_bigquery_dataset" "tote" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  dataset_id  = local.catalog.dataset
  location    = var.bigquery_location
  description = "tote-realtime: Tote pool-betting messages, raw and typed, with dead letters."

  delete_contents_on_destroy = false

  depends_on = [google_project_service.enabled]
}

resource "google_bigquery_table" "catalog" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  for_each = local.catalog.tables

  dataset_id  = google_bigquery_dataset.tote.dataset_id
  table_id    = each.key
  description = each.value.description
  schema      = file("${path.module}/generated/${each.value.schema_file}")

  time_partitioning {
    type          = "DAY"
    field         = each.value.partition_field
    expiration_ms = var.partition_expiration_days > 0 ? var.partition_expiration_days * 86400000 : null
  }

  clustering = each.value.clustering

  deletion_protection = var.deletion_protection
}

resource "google_bigquery_table" "view" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  #checkov:skip=CKV_GCP_121:a view holds no data; Terraform recreates it from pipeline/sql/views
  for_each = local.view_files

  dataset_id = google_bigquery_dataset.tote.dataset_id
  table_id   = each.key

  view {
    query          = templatefile(each.value, { project = var.project_id, dataset = google_bigquery_dataset.tote.dataset_id })
    use_legacy_sql = false
  }

  deletion_protection = false

  # A view is validated against its tables when created.
  depends_on = [google_bigquery_table.catalog]
}

resource "google_bigquery_table" "derived_view" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  #checkov:skip=CKV_GCP_121:a view holds no data; Terraform recreates it from pipeline/sql/views/derived
  for_each = local.derived_view_files

  dataset_id = google_bigquery_dataset.tote.dataset_id
  table_id   = each.key

  view {
    query          = templatefile(each.value, { project = var.project_id, dataset = google_bigquery_dataset.tote.dataset_id })
    use_legacy_sql = false
  }

  deletion_protection = false

  # These read the views above (latest_*), which must exist first.
  depends_on = [google_bigquery_table.catalog, google_bigquery_table.view]
}

# These five views moved to pipeline/sql/views/derived/: keep them, do not destroy and re-create.
moved {
  from = google_bigquery_table.view["races"]
  to   = google_bigquery_table.derived_view["races"]
}

moved {
  from = google_bigquery_table.view["race_pools"]
  to   = google_bigquery_table.derived_view["race_pools"]
}

moved {
  from = google_bigquery_table.view["race_runners"]
  to   = google_bigquery_table.derived_view["race_runners"]
}

moved {
  from = google_bigquery_table.view["pool_total_timeline"]
  to   = google_bigquery_table.derived_view["pool_total_timeline"]
}

moved {
  from = google_bigquery_table.view["race_dividends"]
  to   = google_bigquery_table.derived_view["race_dividends"]
}
