# tote-realtime — everything a developer or CI does goes through here.
#   make run    install what is missing, then start the whole local system
#   make test   install what is missing, then lint (ruff, mypy) and run the whole test suite
#   make help   every target with its one-line description
#   make bench  the benchmarks (throughput, latency percentiles)
# Each section below belongs to one part of the system.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BQVENV := .bqvenv
IACVENV := .iacvenv
RUN_DIR := .run

.PHONY: help install run test lint fmt bench system-deps clean
.DEFAULT_GOAL := help

# `make help` (or plain `make`) lists every target that has a `## description` on its line.
help: ## List the targets and what each does
	@grep -hE '^[a-zA-Z][a-zA-Z0-9_.-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-18s %s\n", $$1, $$2}'

# --- install ------------------------------------------------------------------------------------
$(VENV)/.installed: setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# The BigQuery emulator needs its own virtualenv: its grpcio/protobuf pins clash with Beam's.
$(BQVENV)/.installed: devstack/bqemulator-requirements.txt
	@test -x $(BQVENV)/bin/python || $(PYTHON) -m venv $(BQVENV)
	$(BQVENV)/bin/python -m pip install -q --upgrade pip
	$(BQVENV)/bin/python -m pip install -q -r devstack/bqemulator-requirements.txt
	@touch $@

# checkov (the Terraform scanner run by tests/terraform/test_checkov.py) in its own virtualenv
# too: it pins dozens of libraries the services must not inherit.
$(IACVENV)/.installed: devstack/iac-requirements.txt
	@test -x $(IACVENV)/bin/python || $(PYTHON) -m venv $(IACVENV)
	$(IACVENV)/bin/python -m pip install -q --upgrade pip
	$(IACVENV)/bin/python -m pip install -q -r devstack/iac-requirements.txt
	@touch $@

install: $(VENV)/.installed $(BQVENV)/.installed $(IACVENV)/.installed ## Create .venv, .bqvenv and .iacvenv and install what is missing

# System packages (Java + Pub/Sub emulator come with the machine image; Chromium for the
# dashboard's browser test). Installs only what is missing, only when it can (root + apt).
system-deps: ## Install missing system packages (Java, gcloud + Pub/Sub emulator, Chromium)
	@bash devstack/system-deps.sh

# --- quality --------------------------------------------------------------------------------------
# The gates: every one fails the build (mypy's settings are in pyproject.toml).
lint: $(VENV)/.installed ## Gates: ruff check, ruff format --check, mypy (zero errors)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(VENV)/.installed ## Fix what ruff can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install lint ## Install, lint (the gates), then run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

# --- local system ---------------------------------------------------------------------------------
run: install ## Start the whole local system (ARGS=--help for its options)
	$(PY) -m devstack.run $(ARGS)

# --- benchmarks -----------------------------------------------------------------------------------
bench: install ## Run the benchmarks (ARGS='--only NAME' for one)
	$(PY) -m benchmarks $(ARGS)

# --- pipeline -------------------------------------------------------------------------------------

# --- connector ------------------------------------------------------------------------------------
# Tote simulator and connector for local use (ports: SIM_PORT websocket, SIM_PORT+1 control;
# CONNECTOR_PORT control API).  The connector needs PUBSUB_EMULATOR_HOST (or real credentials).
SIM_PORT ?= 8765
SIM_RATE ?= 50
CONNECTOR_PORT ?= 8081
CONNECTOR_CONTROL_TOKEN ?= local-control-token
.PHONY: simulator connector test-connector bench-connector

simulator: $(VENV)/.installed ## Start the Tote simulator alone (SIM_PORT, SIM_RATE)
	$(PY) -m simulator --port $(SIM_PORT) --rate $(SIM_RATE) --api-key local-api-key

connector: $(VENV)/.installed ## Start the connector alone against the simulator (needs PUBSUB_EMULATOR_HOST)
	PORT=$(CONNECTOR_PORT) CONTROL_TOKEN=$(CONNECTOR_CONTROL_TOKEN) TOTE_API_KEY=local-api-key \
	TOTE_SUBSCRIPTIONS_URL=ws://127.0.0.1:$(SIM_PORT)/partner/connections/graphql/ \
	$(PY) -m connector

test-connector: $(VENV)/.installed ## Run the connector's tests
	$(PY) -m pytest tests/connector $(PYTEST_ARGS)

bench-connector: $(VENV)/.installed ## Benchmark the connector (simulator to Pub/Sub emulator)
	$(PY) -m benchmarks.bench_connector


# --- webapp ---------------------------------------------------------------------------------------
# The web app alone (the whole system: make run). Needs PUBSUB_EMULATOR_HOST and
# GOOGLE_CLOUD_PROJECT (or real credentials); WEBAPP_PUBSUB=false serves without Pub/Sub.
WEBAPP_PORT ?= 8080
.PHONY: webapp test-webapp bench-webapp

webapp: $(VENV)/.installed ## Start the web app alone (WEBAPP_PORT)
	PORT=$(WEBAPP_PORT) WEBAPP_HOST=127.0.0.1 $(VENV)/bin/gunicorn -c webapp/gunicorn_conf.py 'webapp.app:create_app()'

test-webapp: $(VENV)/.installed ## Run the web app's tests
	$(PY) -m pytest tests/webapp $(PYTEST_ARGS)

# Access tokens for a deployed web app (docs/webapp.md#access). The keyring is read from Secret
# Manager into the minting process only; the token goes to stdout and nowhere else:
#   make webapp-token PROJECT=p SUB=alice STREAMS=market,bet-lifecycle TTL=3600
#   make webapp-token-key KID=2026-12     (a fresh keyring entry, for a key rotation)
TTL ?= 3600
.PHONY: webapp-token webapp-token-key

webapp-token: $(VENV)/.installed ## Mint an access token for a deployed web app (PROJECT, SUB, STREAMS, TTL)
	$(call deploy-require,PROJECT SUB STREAMS)
	@WEBAPP_TOKEN_KEYS="$$(gcloud secrets versions access latest --secret=tote-webapp-token-keys --project=$(PROJECT))" $(PY) -m webapp.tokens mint --sub '$(SUB)' --streams '$(STREAMS)' --ttl '$(TTL)'

webapp-token-key: $(VENV)/.installed ## Print a fresh access-token keyring entry (KID)
	$(call deploy-require,KID)
	@$(PY) -m webapp.tokens new-key --kid '$(KID)'

# 1000 SSE clients, 100 events/s through the Pub/Sub emulator; BENCH_ARGS='--clients 2000' etc.
bench-webapp: $(VENV)/.installed ## Benchmark the web app (1000 SSE clients; BENCH_ARGS=...)
	$(PY) -m benchmarks.bench_webapp $(BENCH_ARGS)

# --- deploy (Terraform, Dataflow flex template, images) -------------------------------------------
# The path in docs/deployment.md, in order: tf-state-bucket (once), tf-init, then `make deploy`
# (= tf-bootstrap, build-and-push, template-build, tf-apply), then dataflow-run the first time
# and dataflow-update afterwards. PROJECT and REGION are required by every cloud target.
PROJECT ?=
REGION ?=
IMAGE_REPO ?= $(REGION)-docker.pkg.dev/$(PROJECT)/tote
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
TF_STATE_BUCKET ?= $(PROJECT)-tfstate
TF_APPLY_FLAGS ?=
DATAFLOW_BUCKET ?= $(PROJECT)-tote-dataflow
DATAFLOW_JOB ?= tote-pipeline
DATAFLOW_MAX_WORKERS ?= 3
DATAFLOW_MACHINE_TYPE ?= n2-standard-2
# For an update that renames steps: TRANSFORM_NAME_MAPPINGS='Old=New,...' (see docs/operations.md)
TRANSFORM_NAME_MAPPINGS ?=

TF := terraform -chdir=terraform
TF_VARS = -var 'project_id=$(PROJECT)' -var 'region=$(REGION)' \
	-var 'connector_image=$(IMAGE_REPO)/connector:$(IMAGE_TAG)' \
	-var 'webapp_image=$(IMAGE_REPO)/webapp:$(IMAGE_TAG)' \
	-var 'dataflow_job_name=$(DATAFLOW_JOB)'
LAUNCHER_IMAGE = $(IMAGE_REPO)/dataflow-launcher:$(IMAGE_TAG)
TEMPLATE_PATH = gs://$(DATAFLOW_BUCKET)/templates/tote-pipeline.json
DATAFLOW_SA = tote-dataflow@$(PROJECT).iam.gserviceaccount.com
# Subscription, dataset and topic names default to contract/catalog.py inside the pipeline.
DATAFLOW_PARAMETERS = pubsub_project=$(PROJECT),bq_project=$(PROJECT)
DATAFLOW_RUN = gcloud dataflow flex-template run $(DATAFLOW_JOB) \
	--project=$(PROJECT) --region=$(REGION) \
	--template-file-gcs-location=$(TEMPLATE_PATH) \
	--service-account-email=$(DATAFLOW_SA) \
	--staging-location=gs://$(DATAFLOW_BUCKET)/staging \
	--temp-location=gs://$(DATAFLOW_BUCKET)/temp \
	--enable-streaming-engine \
	--max-workers=$(DATAFLOW_MAX_WORKERS) \
	--worker-machine-type=$(DATAFLOW_MACHINE_TYPE) \
	--parameters=$(DATAFLOW_PARAMETERS)

# $(call deploy-require,VARS): stop with a clear message when a required variable is empty.
deploy-require = $(foreach v,$(1),$(if $(strip $($(v))),,$(error $(v) is not set: run make $@ $(v)=... (e.g. make $@ PROJECT=my-project REGION=europe-west2))))

.PHONY: tf-catalog template-metadata tf-fmt tf-state-bucket tf-init tf-bootstrap tf-plan \
	tf-apply tf-destroy build-and-push template-build dataflow-run dataflow-update \
	dataflow-drain dataflow-status connector-status connector-start connector-stop deploy

# Regenerate the files derived from contract/catalog.py and pipeline/options.py.
tf-catalog: $(VENV)/.installed ## Regenerate the Terraform files derived from contract/catalog.py
	$(PY) -m deploy.export_catalog

template-metadata: $(VENV)/.installed ## Regenerate the flex template metadata from pipeline/options.py
	$(PY) -m deploy.flex_template_metadata

tf-fmt: ## Format the Terraform files
	terraform fmt -recursive terraform

# Once per project: the bucket that holds Terraform state (versioned, so a bad apply can be undone).
tf-state-bucket: ## Once per project: create the Terraform state bucket (PROJECT, REGION)
	$(call deploy-require,PROJECT REGION)
	gcloud storage buckets create gs://$(TF_STATE_BUCKET) --project=$(PROJECT) --location=$(REGION) --uniform-bucket-level-access
	gcloud storage buckets update gs://$(TF_STATE_BUCKET) --versioning

tf-init: ## terraform init against the state bucket (PROJECT)
	$(call deploy-require,PROJECT)
	$(TF) init -backend-config=bucket=$(TF_STATE_BUCKET) -backend-config=prefix=tote-realtime

# What must exist before the rest: APIs, the image repository and Dataflow bucket (images and
# the template are pushed there) and the secret containers (Cloud Run refuses to deploy a
# revision whose secret has no version yet).
tf-bootstrap: ## Apply what must exist first: APIs, image repository, bucket, secrets
	$(call deploy-require,PROJECT REGION)
	$(TF) apply $(TF_APPLY_FLAGS) $(TF_VARS) -target=google_project_service.enabled \
		-target=google_artifact_registry_repository.images -target=google_storage_bucket.dataflow \
		-target=google_secret_manager_secret.this

tf-plan: ## terraform plan (PROJECT, REGION)
	$(call deploy-require,PROJECT REGION)
	$(TF) plan $(TF_VARS)

tf-apply: ## terraform apply (PROJECT, REGION)
	$(call deploy-require,PROJECT REGION)
	$(TF) apply $(TF_APPLY_FLAGS) $(TF_VARS)

tf-destroy: ## terraform destroy (PROJECT, REGION)
	$(call deploy-require,PROJECT REGION)
	$(TF) destroy $(TF_VARS)

# The connector, web app and flex-template launcher images, tagged with the commit.
build-and-push: ## Build and push the connector, web app and launcher images
	$(call deploy-require,PROJECT REGION)
	gcloud auth configure-docker $(REGION)-docker.pkg.dev --quiet
	docker buildx build --platform=linux/amd64 --push -f deploy/connector.Dockerfile -t $(IMAGE_REPO)/connector:$(IMAGE_TAG) .
	docker buildx build --platform=linux/amd64 --push -f deploy/webapp.Dockerfile -t $(IMAGE_REPO)/webapp:$(IMAGE_TAG) .
	docker buildx build --platform=linux/amd64 --push -f deploy/flex_template/Dockerfile -t $(LAUNCHER_IMAGE) .

template-build: ## Build the Dataflow flex template
	$(call deploy-require,PROJECT REGION)
	gcloud dataflow flex-template build $(TEMPLATE_PATH) --project=$(PROJECT) \
		--image=$(LAUNCHER_IMAGE) --sdk-language=PYTHON \
		--metadata-file=deploy/flex_template/metadata.json

# Launch the streaming job (first time, or after a drain).
dataflow-run: ## Launch the streaming Dataflow job (first time, or after a drain)
	$(call deploy-require,PROJECT REGION)
	$(DATAFLOW_RUN)

# Replace the running job in place: same name, so Dataflow carries its state over; steps are
# matched by label, renamed ones through TRANSFORM_NAME_MAPPINGS.
dataflow-update: ## Replace the running Dataflow job in place (TRANSFORM_NAME_MAPPINGS=...)
	$(call deploy-require,PROJECT REGION)
	$(DATAFLOW_RUN) --update $(if $(TRANSFORM_NAME_MAPPINGS),--transform-name-mappings=$(TRANSFORM_NAME_MAPPINGS))

# Stop reading, finish everything in flight, then stop (no data lost; the subscription keeps
# whatever arrives meanwhile).
dataflow-drain: ## Drain the running Dataflow job (finish in-flight work, then stop)
	$(call deploy-require,PROJECT REGION)
	@job_id=$$(gcloud dataflow jobs list --project=$(PROJECT) --region=$(REGION) --status=active \
		--filter='name=$(DATAFLOW_JOB)' --format='value(id)'); \
	if [ -z "$$job_id" ]; then echo "no active job named $(DATAFLOW_JOB) in $(REGION)" >&2; exit 1; fi; \
	echo "draining $(DATAFLOW_JOB) ($$job_id)"; \
	gcloud dataflow jobs drain $$job_id --project=$(PROJECT) --region=$(REGION)

dataflow-status: ## List the Dataflow job's recent runs
	$(call deploy-require,PROJECT REGION)
	gcloud dataflow jobs list --project=$(PROJECT) --region=$(REGION) --filter='name=$(DATAFLOW_JOB)' --limit=5

# The connector in the cloud: status through its control API (needs roles/run.invoker, see
# connector_operators in terraform/variables.tf); start/stop by running the Scheduler jobs now,
# so the call carries the same OIDC identity as the 06:00 and 23:00 runs.
CONNECTOR_URL_CMD = gcloud run services describe tote-connector --project=$(PROJECT) --region=$(REGION) --format='value(status.url)'

connector-status: ## The cloud connector's /status (needs roles/run.invoker)
	$(call deploy-require,PROJECT REGION)
	curl -fsS -H "Authorization: Bearer $$(gcloud auth print-identity-token)" "$$($(CONNECTOR_URL_CMD))/status"

connector-start: ## Start the cloud connector now (runs the Scheduler start job)
	$(call deploy-require,PROJECT REGION)
	gcloud scheduler jobs run tote-connector-start --project=$(PROJECT) --location=$(REGION)

connector-stop: ## Stop the cloud connector now (runs the Scheduler stop job)
	$(call deploy-require,PROJECT REGION)
	gcloud scheduler jobs run tote-connector-stop --project=$(PROJECT) --location=$(REGION)

# Everything but the Dataflow job, in the order that works on an empty project.
deploy: ## Everything but the Dataflow job, in order (tf-bootstrap .. tf-apply)
	$(call deploy-require,PROJECT REGION)
	$(MAKE) tf-bootstrap build-and-push template-build tf-apply
	@echo "Now: make dataflow-run (first time) or make dataflow-update (job already running)."

clean: ## Remove the virtualenvs and local state
	rm -rf $(VENV) $(BQVENV) $(IACVENV) $(RUN_DIR) *.egg-info
