#!/usr/bin/env bash
# Removes what deploy/deploy.sh created: the Scheduler jobs that publish to the topic, the
# subscriptions and topics, the Cloud Run service, the IAM grants, the service accounts and
# the Artifact Registry repository (with its images). APIs stay enabled; Workbench instances
# the service launched are not touched (list them with
# `gcloud workbench instances list --location=- --filter=labels.managed-by=notebook-trigger`).
#
# Usage: deploy/teardown.sh [--config FILE] [--project P] [--region R] [--yes] [--dry-run]
#   --yes      do not ask before deleting
#   --dry-run  print every command instead of running it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=deploy/lib.sh
source "$here/lib.sh"

config="$here/config.env"
yes=0
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --project) PROJECT=$2; shift 2 ;;
    --region) REGION=$2; shift 2 ;;
    --yes) yes=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
load_config "$config"
derive_names
gc=(--project="$PROJECT" --quiet)

if [ "$yes" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
  echo "This deletes from project $PROJECT: Scheduler jobs publishing to $TOPIC, subscriptions"
  echo "$SUBSCRIPTION and $DEAD_LETTER_SUBSCRIPTION, topics $TOPIC and $DEAD_LETTER_TOPIC${RUN_EVENTS_TOPIC:+ and $RUN_EVENTS_TOPIC}, Cloud Run"
  echo "service $SERVICE, repository $REPOSITORY and its images, and the service accounts"
  echo "$RUNTIME_EMAIL, $INVOKER_EMAIL and $VM_EMAIL."
  read -r -p "Type the project id to confirm: " answer
  [ "$answer" = "$PROJECT" ] || die "not confirmed; nothing deleted"
fi

say "Scheduler jobs publishing to $TOPIC"
jobs=$(read_value "" gcloud scheduler jobs list --location="$SCHEDULER_LOCATION" "${gc[@]}" \
  --filter="pubsubTarget.topicName=projects/$PROJECT/topics/$TOPIC" --format='value(name.basename())')
for job in $jobs; do
  run gcloud scheduler jobs delete "$job" --location="$SCHEDULER_LOCATION" "${gc[@]}"
done

say "Pub/Sub"
for subscription in "$SUBSCRIPTION" "$DEAD_LETTER_SUBSCRIPTION"; do
  if exists gcloud pubsub subscriptions describe "$subscription" "${gc[@]}" || [ "$DRY_RUN" -eq 1 ]; then
    run gcloud pubsub subscriptions delete "$subscription" "${gc[@]}"
  fi
done
for topic in "$TOPIC" "$DEAD_LETTER_TOPIC" ${RUN_EVENTS_TOPIC:+"$RUN_EVENTS_TOPIC"}; do
  if exists gcloud pubsub topics describe "$topic" "${gc[@]}" || [ "$DRY_RUN" -eq 1 ]; then
    run gcloud pubsub topics delete "$topic" "${gc[@]}"
  fi
done

say "Cloud Run service $SERVICE"
if exists gcloud run services describe "$SERVICE" --region="$REGION" "${gc[@]}" || [ "$DRY_RUN" -eq 1 ]; then
  run gcloud run services delete "$SERVICE" --region="$REGION" "${gc[@]}"
fi

say "IAM grants and service accounts"
for grant in "$RUNTIME_EMAIL $NOTEBOOKS_ROLE" "$VM_EMAIL roles/artifactregistry.reader" \
  "$RUNTIME_EMAIL roles/notebooks.admin" "$VM_EMAIL projects/$PROJECT/roles/$RUNNER_ROLE"; do
  read -r member role <<<"$grant"
  # Absent bindings make this fail; that is fine for a teardown.
  run gcloud projects remove-iam-policy-binding "$PROJECT" --member="serviceAccount:$member" \
    --role="$role" --condition=None --quiet || true
done
if [ -n "$SCRIPT_BUCKET" ]; then
  run gcloud storage buckets remove-iam-policy-binding "gs://$SCRIPT_BUCKET" \
    --member="serviceAccount:$VM_EMAIL" --role=roles/storage.objectViewer "${gc[@]}" || true
fi
if exists gcloud iam roles describe "$RUNNER_ROLE" --project="$PROJECT" || [ "$DRY_RUN" -eq 1 ]; then
  run gcloud iam roles delete "$RUNNER_ROLE" --project="$PROJECT" --quiet
fi
# The runs bucket holds the runs' outputs and records: it is kept (delete it by hand).
for email in "$RUNTIME_EMAIL" "$INVOKER_EMAIL" "$VM_EMAIL"; do
  if exists gcloud iam service-accounts describe "$email" "${gc[@]}" || [ "$DRY_RUN" -eq 1 ]; then
    run gcloud iam service-accounts delete "$email" "${gc[@]}"
  fi
done

say "Artifact Registry repository $REPOSITORY"
if exists gcloud artifacts repositories describe "$REPOSITORY" --location="$REGION" "${gc[@]}" || [ "$DRY_RUN" -eq 1 ]; then
  run gcloud artifacts repositories delete "$REPOSITORY" --location="$REGION" "${gc[@]}"
fi
say "done (APIs left enabled)"
