# Provider and Terraform versions. The flex-template job resource exists only in google-beta.
# State lives in a GCS bucket given at init time (make tf-init), never in the repository.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14, < 8"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.14, < 8"
    }
  }

  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}
