#!/usr/bin/env bash
# Installs the system packages the local system and the tests need, when they are missing.
# Java 17 and the Pub/Sub emulator ship with the machine image; Chromium is for the dashboard's
# browser test. Needs root and apt-get; otherwise it says what to install and carries on.
set -euo pipefail
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v gcloud >/dev/null || missing+=(google-cloud-cli google-cloud-cli-pubsub-emulator)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "please install these system packages: ${missing[*]}" >&2
fi
