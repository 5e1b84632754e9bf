# Where the images and the Dataflow files live. Both exist before any image is pushed
# (make tf-bootstrap applies only these and the APIs, see docs/deployment.md).

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption at rest by design: Tote market data, no customer keys to manage (docs/deployment.md)
  repository_id = var.artifact_repository
  location      = var.region
  format        = "DOCKER"
  description   = "tote-realtime images: connector, web app, Dataflow flex-template launcher."

  depends_on = [google_project_service.enabled]
}

# Staging and temp files of the Dataflow job and the flex template spec.
resource "google_storage_bucket" "dataflow" {
  #checkov:skip=CKV_GCP_62:Dataflow staging/temp files only; Cloud Audit Logs record access, a log bucket would add nothing
  #checkov:skip=CKV_GCP_78:staging/temp files are rebuilt at each launch and expire after 30 days; versions would only keep garbage
  name                        = local.dataflow_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Temp files are only needed while a job runs; staged packages are re-uploaded at launch.
  lifecycle_rule {
    condition {
      age            = 30
      matches_prefix = ["temp/", "staging/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
