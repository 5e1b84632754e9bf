# Provider and Terraform versions. The flex-template job resource exists only in google-beta.
# Every argument name used here was checked against the 6.50 provider schema; a major version
# (7.x) may remove or rename arguments, so moving to it is a deliberate change.
# State lives in a GCS bucket given at init time (make tf-init), never in the repository.
terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.50"
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
