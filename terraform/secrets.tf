# Secret Manager containers only. Values are added out of band with
#   gcloud secrets versions add <secret> --data-file=-
# (docs/deployment.md), so no secret value ever passes through Terraform variables or state.

locals {
  secrets = {
    api_key           = "tote-api-key"
    subscriptions_url = "tote-subscriptions-url"
    graphql_url       = "tote-graphql-url"
    webapp_token_keys = "tote-webapp-token-keys"
  }
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
