#!/usr/bin/env bash
# Deploys notebook-trigger to Google Cloud: APIs, image, service accounts with least privilege,
# the Cloud Run service, the Pub/Sub topic with a push subscription and a dead-letter topic,
# and the Cloud Scheduler jobs of scheduler.yaml. Idempotent: every step checks what exists
# and a second run changes nothing.
#
# Usage: deploy/deploy.sh [--config FILE] [--project P] [--region R] [--image IMAGE]
#                         [--only STEPS] [--service-url URL] [--dry-run]
#   STEPS: comma list of apis,registry,image,accounts,service,runs,pubsub,pubsub-iam,scheduler
#   --image        deploy this image instead of building one (skips the build)
#   --service-url  the service's URL when the service step is skipped (else it is looked up)
#   --dry-run      print every command instead of running it
# Settings: deploy/config.env (or --config), overridden by the environment and the flags.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=deploy/lib.sh
source "$here/lib.sh"
# shellcheck source=deploy/executions.sh
source "$here/executions.sh"
# shellcheck source=deploy/notify.sh
source "$here/notify.sh"

ALL_STEPS="apis,registry,image,accounts,service,runs,pubsub,pubsub-iam,scheduler"
config="$here/config.env"
only=$ALL_STEPS
SERVICE_URL=""
IMAGE=""

while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --project) PROJECT=$2; shift 2 ;;
    --region) REGION=$2; shift 2 ;;
    --image) IMAGE=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --service-url) SERVICE_URL=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/p;}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

for step in ${only//,/ }; do
  [[ ",$ALL_STEPS," == *",$step,"* ]] || die "unknown step: $step (steps: $ALL_STEPS)"
done
wants() { [[ ",$only," == *",$1,"* ]]; }

load_config "$config"
derive_names
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
: "${NOTEBOOK_LOCATION:?set NOTEBOOK_LOCATION in the config}"
: "${CONTAINER_IMAGE:?set CONTAINER_IMAGE in the config}"
gc=(--project="$PROJECT" --quiet)

# The variables the service reads (README "Configuration"), forwarded from the config when set.
# PORT is Cloud Run's, and HOST stays 0.0.0.0, where Cloud Run sends requests;
# GOOGLE_CLOUD_PROJECT is always the deploy's project. PROFILES_FILE is shipped first (below).
SERVICE_VARIABLES=(
  NOTEBOOKS_EMULATOR_HOST NOTEBOOKS_ENDPOINT NOTEBOOKS_API_VERSION NOTEBOOK_LOCATION
  CONTAINER_IMAGE CONTAINER_TAG MACHINE_TYPE POST_STARTUP_SCRIPT POST_STARTUP_SCRIPT_BEHAVIOR
  IDLE_TIMEOUT_SECONDS INSTANCE_SERVICE_ACCOUNT NETWORK SUBNET DISABLE_PUBLIC_IP
  ACCELERATOR_TYPE ACCELERATOR_COUNT INSTALL_GPU_DRIVER BOOT_DISK_TYPE BOOT_DISK_SIZE_GB
  INSTANCE_LABELS INSTANCE_METADATA INSTANCE_ID INSTANCE_ID_PREFIX ON_EXISTING PROFILES_FILE
  ALLOWED_OVERRIDES POLL_TIMEOUT POLL_INITIAL_DELAY POLL_MAX_DELAY HTTP_CONNECT_TIMEOUT
  HTTP_REQUEST_TIMEOUT MAX_BODY_BYTES LOG_FORMAT RUST_LOG
  PUSH_AUTH PUSH_AUTH_AUDIENCE PUSH_AUTH_SERVICE_ACCOUNTS MAX_CONCURRENT_LAUNCHES
  ALLOWED_IMAGE_PREFIXES PUSH_AUTH_JWKS_URL MAX_PAYLOAD_BYTES
  SERVICE_URL RUNNER_SCRIPT ON_COMPLETE ON_FAILURE REPORT_WITHIN RUN_GRACE KEEP_STOPPED RUN_LOST_AFTER
  RUN_TOKEN_JWKS_URL STORAGE_EMULATOR_HOST NOTEBOOKS_EMULATOR_PROTOCOL
  RUN_EVENTS_TOPIC PUBSUB_EMULATOR_HOST
  NOTEBOOK NOTEBOOK_PARAMETERS NOTEBOOK_SECRETS NOTEBOOK_OUTPUT MAX_RUN_TIME ALLOWED_PARAMETERS
  MESSAGE_EVENTS NOTIFY EXPECTED_DURATION RETRIES RETRY_ON RETRY_DELAY MAX_CONCURRENT_RUNS WHEN_BUSY
  KEEP_RUNS BACKEND RUNTIME_TEMPLATE
  RUNS_READERS RUNS_OPERATORS RUNS_AUTH RUNS_AUTH_AUDIENCE
)

project_number() {
  read_value "PROJECT_NUMBER" gcloud projects describe "$PROJECT" --format='value(projectNumber)'
}

service_url() {
  read_value "https://$SERVICE-PROJECT_NUMBER.$REGION.run.app" \
    gcloud run services describe "$SERVICE" --region="$REGION" "${gc[@]}" --format='value(status.url)'
}

step_apis() {
  say "APIs"
  run gcloud services enable run.googleapis.com pubsub.googleapis.com \
    cloudscheduler.googleapis.com notebooks.googleapis.com artifactregistry.googleapis.com \
    cloudbuild.googleapis.com iamcredentials.googleapis.com "${gc[@]}"
}

step_registry() {
  say "Artifact Registry repository $REPOSITORY"
  exists gcloud artifacts repositories describe "$REPOSITORY" --location="$REGION" "${gc[@]}" ||
    run gcloud artifacts repositories create "$REPOSITORY" --repository-format=docker \
      --location="$REGION" --description="notebook-trigger images" "${gc[@]}"
}

# The image is tagged with the commit; an existing tag is not built again (a tree with
# uncommitted changes gets a -dirty tag and is always built).
image_name() {
  if [ -n "$IMAGE" ]; then
    echo "$IMAGE"
    return
  fi
  local tag
  tag=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo manual)
  if [ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]; then
    tag="$tag-dirty"
  fi
  echo "$IMAGE_BASE:$tag"
}

step_image() {
  say "image $IMAGE"
  if [[ $IMAGE == *-dirty ]] || ! exists gcloud artifacts docker images describe "$IMAGE" "${gc[@]}"; then
    run gcloud builds submit "$root" --tag="$IMAGE" --region="$REGION" "${gc[@]}"
  fi
}

ensure_account() {
  local name=$1 display=$2
  exists gcloud iam service-accounts describe "$name@$PROJECT.iam.gserviceaccount.com" "${gc[@]}" ||
    run gcloud iam service-accounts create "$name" --display-name="$display" "${gc[@]}"
}

step_accounts() {
  say "service accounts"
  ensure_account "$RUNTIME_ACCOUNT" "notebook-trigger service (creates Workbench instances)"
  ensure_account "$INVOKER_ACCOUNT" "notebook-trigger push (Pub/Sub invokes the service)"
  ensure_account "$VM_ACCOUNT" "notebook-trigger VM (runs the notebook container)"
  # Runtime: create and follow instances; act as the VM account, and only that one.
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$RUNTIME_EMAIL" \
    --role="$NOTEBOOKS_ROLE" --condition=None --quiet
  run gcloud iam service-accounts add-iam-policy-binding "$INSTANCE_SERVICE_ACCOUNT" \
    --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/iam.serviceAccountUser "${gc[@]}"
  # VM: pull the notebook image, read the post-startup script's bucket.
  if [ "$INSTANCE_SERVICE_ACCOUNT" = "$VM_EMAIL" ]; then
    run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$VM_EMAIL" \
      --role=roles/artifactregistry.reader --condition=None --quiet
    if [ -n "$SCRIPT_BUCKET" ]; then
      run gcloud storage buckets add-iam-policy-binding "gs://$SCRIPT_BUCKET" \
        --member="serviceAccount:$VM_EMAIL" --role=roles/storage.objectViewer "${gc[@]}"
    fi
  fi
}

# The service's environment as one --set-env-vars value, with gcloud's ^DELIM^ form so that
# values may hold commas (INSTANCE_LABELS=a=b,c=d).
env_vars() {
  local delimiter='##' items=("GOOGLE_CLOUD_PROJECT=$PROJECT") name value
  for name in "${SERVICE_VARIABLES[@]}"; do
    value=${!name:-}
    [ -n "$value" ] || continue
    [[ $value != *"$delimiter"* ]] || die "$name holds '$delimiter', which deploy.sh uses as a separator"
    items+=("$name=$value")
  done
  # The webhook URLs that url_env rules name (notify.sh): checked by name, never shown.
  local item
  for item in ${WEBHOOK_ENV[@]+"${WEBHOOK_ENV[@]}"}; do
    [[ $item != *"$delimiter"* ]] || die "${item%%=*} holds '$delimiter', which deploy.sh uses as a separator"
    items+=("$item")
  done
  local joined
  joined=$(printf "$delimiter%s" "${items[@]}")
  echo "^$delimiter^${joined#"$delimiter"}"
}

step_service() {
  say "Cloud Run service $SERVICE"
  # Read by env_vars through SERVICE_VARIABLES: the service checks push tokens for them.
  # shellcheck disable=SC2034
  PUSH_AUTH_SERVICE_ACCOUNTS=$INVOKER_EMAIL
  local known_url="" envs
  if [ "$DRY_RUN" -eq 1 ] || exists gcloud run services describe "$SERVICE" --region="$REGION" "${gc[@]}"; then
    known_url=$(service_url)
  fi
  # shellcheck disable=SC2034
  PUSH_AUTH_AUDIENCE=$known_url
  # Runners report to the service's own URL, with tokens for that audience.
  # shellcheck disable=SC2034
  SERVICE_URL=$known_url
  ship_profiles
  webhook_variables
  envs=$(env_vars)
  # Polling happens inside the push request, so request-based billing is enough; the
  # request may last as long as Pub/Sub's 600 s ack deadline. --use-http2: pushes waiting for
  # their instance arrive as streams on a few HTTP/2 connections instead of one HTTP/1.1
  # connection each, about 7 KB per waiting launch instead of 27 KB (BENCHMARKS.md). The
  # service takes h2c and HTTP/1.1 on the same port, so the HTTP/1.1 startup probe still works.
  run gcloud run deploy "$SERVICE" --image="$IMAGE" --region="$REGION" \
    --service-account="$RUNTIME_EMAIL" --no-allow-unauthenticated \
    --set-env-vars="$envs" "$(secrets_flag)" --timeout=600 --concurrency="$CONCURRENCY" --use-http2 \
    --max-instances="$MAX_INSTANCES" --cpu-boost \
    --startup-probe=httpGet.path=/healthz,httpGet.port=8080,periodSeconds=2,timeoutSeconds=1,failureThreshold=15 \
    "${gc[@]}"
  SERVICE_URL=$(service_url)
  if [ "$known_url" != "$SERVICE_URL" ]; then
    # First deploy: the URL exists only now. The audience the service expects is that URL.
    run gcloud run services update "$SERVICE" --region="$REGION" \
      --update-env-vars="PUSH_AUTH_AUDIENCE=$SERVICE_URL,SERVICE_URL=$SERVICE_URL" "${gc[@]}"
  fi
  run gcloud run services add-iam-policy-binding "$SERVICE" --region="$REGION" \
    --member="serviceAccount:$INVOKER_EMAIL" --role=roles/run.invoker "${gc[@]}"
  # The run history's readers and operators get past Cloud Run's IAM (the service then checks
  # their email).
  local reader readers
  IFS=',' read -ra readers <<<"${RUNS_READERS:-}${RUNS_OPERATORS:+,$RUNS_OPERATORS}"
  for reader in "${readers[@]}"; do
    reader=${reader//[[:space:]]/}
    [ -n "$reader" ] || continue
    run gcloud run services add-iam-policy-binding "$SERVICE" --region="$REGION" \
      --member="$(principal "$reader")" --role=roles/run.invoker "${gc[@]}"
  done
}

# The named profiles (PROFILES_FILE) where the service reads them at start-up, with its own
# account: a change of profiles is a deploy, not an image build.
# - A local file (a path from the repository's root, or absolute) is shipped to the runs bucket
#   as gs://RUNS_BUCKET/notebook-trigger-config/profiles-HASH.EXT. The name carries a hash of
#   the content, so each revision keeps reading the profiles it was deployed with (a rollback
#   gets its own back, an old revision's cold start never meets newer ones) and new profiles
#   make a new revision. The service account may read that folder alone (an IAM condition on
#   the object names), granted here because the service reads it before step runs grants the
#   bucket. The VM account reads it too (its grant covers all but the run records; profiles
#   hold no secrets), but cannot change it: it may create objects, not overwrite them, and the
#   deploy writes the object right before the service starts.
# - A gs:// URI is an object kept by the operator: passed on as it is, and the service account
#   may read that object alone (IAM conditions need uniform bucket-level access on its bucket).
ship_profiles() {
  [ -n "${PROFILES_FILE:-}" ] || return 0
  local source=$PROFILES_FILE folder=notebook-trigger-config bucket object names
  if [[ $source == gs://* ]]; then
    [[ $source =~ ^gs://([^/]+)/(.+)$ ]] ||
      die "PROFILES_FILE=$source names no object (gs://BUCKET/OBJECT)"
    bucket=${BASH_REMATCH[1]}
    object=${BASH_REMATCH[2]}
    names="resource.name==\"projects/_/buckets/$bucket/objects/$object\""
  else
    [[ $source == /* ]] || source="$root/$source"
    [ -f "$source" ] || die "PROFILES_FILE=$PROFILES_FILE: no such file (a path from the repository's root, or gs://BUCKET/OBJECT)"
    [ -n "$RUNS_BUCKET" ] ||
      die "PROFILES_FILE is a local file: set RUNS_BUCKET, the bucket it is shipped to (or give gs://BUCKET/OBJECT)"
    local extension=${source##*.}
    [[ $extension =~ ^(toml|yaml|yml)$ ]] ||
      die "PROFILES_FILE=$PROFILES_FILE: the service reads .toml, .yaml or .yml files"
    bucket=$RUNS_BUCKET
    object="$folder/profiles-$(content_hash "$source").$extension"
    # What profile_plan reads: this file, even in a dry run that uploads nothing.
    PROFILES_SOURCE=$source
    ensure_runs_bucket
    run gcloud storage cp "$source" "gs://$bucket/$object" "${gc[@]}"
    names="resource.name.startsWith(\"projects/_/buckets/$bucket/objects/$folder/\")"
  fi
  say "the service reads its profiles from gs://$bucket/$object"
  run gcloud storage buckets add-iam-policy-binding "gs://$bucket" \
    --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/storage.objectViewer \
    --condition="expression=$names,title=notebook-trigger-profiles" "${gc[@]}"
  PROFILES_FILE="gs://$bucket/$object"
}

# The first 12 hex digits of a file's SHA-256 (sha256sum on Linux, shasum on macOS).
content_hash() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1"
  else
    shasum -a 256 "$1"
  fi | cut -c1-12
}

# The runs bucket, with uniform bucket-level access: the grants on it are IAM conditions on
# object names, which need it.
ensure_runs_bucket() {
  exists gcloud storage buckets describe "gs://$RUNS_BUCKET" "${gc[@]}" ||
    run gcloud storage buckets create "gs://$RUNS_BUCKET" --location="$REGION" \
      --uniform-bucket-level-access "${gc[@]}"
}

# The IAM principal of an account's email: a service account or a person.
principal() {
  case "$1" in
    *.gserviceaccount.com) echo "serviceAccount:$1" ;;
    *) echo "user:$1" ;;
  esac
}

# Notebook runs: the bucket of the runner and the runs' files, the runner itself (the binary
# prints the version it launches with), and exactly what each account needs for a run.
step_runs() {
  if [ -z "$RUNS_BUCKET" ]; then
    say "runs skipped: set RUNS_BUCKET to run notebooks (the runner and the outputs live there)"
    return
  fi
  say "runs: gs://$RUNS_BUCKET, the runner at $RUNNER_SCRIPT, and the accounts' grants"
  ensure_runs_bucket
  planner runner >"$workdir/runner.sh"
  run gcloud storage cp "$workdir/runner.sh" "$RUNNER_SCRIPT" "${gc[@]}"
  # VM: read the runner and the notebooks, add the runs' files (never overwrite or delete),
  # all except the run records: they decide a run's outcome and cleanup, so nothing a notebook
  # runs may read or plant one. An IAM condition on the object name (uniform bucket-level
  # access, which the bucket is created with) keeps the grant off their prefix.
  local records="projects/_/buckets/$RUNS_BUCKET/objects/notebook-trigger-records/"
  local outside="expression=!resource.name.startsWith(\"$records\"),title=not-run-records"
  run gcloud storage buckets add-iam-policy-binding "gs://$RUNS_BUCKET" \
    --member="serviceAccount:$VM_EMAIL" --role=roles/storage.objectViewer \
    --condition="$outside" "${gc[@]}"
  run gcloud storage buckets add-iam-policy-binding "gs://$RUNS_BUCKET" \
    --member="serviceAccount:$VM_EMAIL" --role=roles/storage.objectCreator \
    --condition="$outside" "${gc[@]}"
  # VM: stop its own instance when its report cannot be delivered. IAM cannot say "its own",
  # so the role holds only what a stop needs.
  exists gcloud iam roles describe "$RUNNER_ROLE" --project="$PROJECT" ||
    run gcloud iam roles create "$RUNNER_ROLE" --project="$PROJECT" \
      --title="notebook-trigger runner" \
      --permissions=notebooks.instances.get,notebooks.instances.stop,notebooks.operations.get --quiet
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$VM_EMAIL" \
    --role="projects/$PROJECT/roles/$RUNNER_ROLE" --condition=None --quiet
  # VM: report to the service (its identity token passes Cloud Run's IAM as an invoker).
  run gcloud run services add-iam-policy-binding "$SERVICE" --region="$REGION" \
    --member="serviceAccount:$VM_EMAIL" --role=roles/run.invoker "${gc[@]}"
  # VMs: read the secrets their profiles name, each on its own, and no other.
  local grants secret account default_vm=''
  grants=$(profile_plan secrets) || die "the profiles cannot be deployed (see the error above)"
  while read -r secret account; do
    [ -n "$secret" ] || continue
    if [ "$account" = - ]; then
      [ -n "$default_vm" ] || default_vm="$(project_number)-compute@developer.gserviceaccount.com"
      account=$default_vm
    fi
    run gcloud secrets add-iam-policy-binding "$secret" --member="serviceAccount:$account" \
      --role=roles/secretmanager.secretAccessor "${gc[@]}"
  done <<<"$grants"
  # Service: read the secrets the profiles' url_secret webhooks name, each on its own.
  grant_notify_secrets
  # Service: write and update run records; cleanup (stop, delete) needs notebooks.admin.
  run gcloud storage buckets add-iam-policy-binding "gs://$RUNS_BUCKET" \
    --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/storage.objectUser "${gc[@]}"
  run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$RUNTIME_EMAIL" \
    --role=roles/notebooks.admin --condition=None --quiet
  grant_executions
}
step_pubsub() {
  say "Pub/Sub topic $TOPIC, subscription $SUBSCRIPTION, dead letters in $DEAD_LETTER_TOPIC"
  if [ -z "$SERVICE_URL" ]; then
    SERVICE_URL=$(service_url)
  fi
  [ -n "$SERVICE_URL" ] || die "no service URL: deploy the service first or pass --service-url"
  local topic
  # The run events topic, when asked for: teams subscribe to it themselves.
  for topic in "$TOPIC" "$DEAD_LETTER_TOPIC" ${RUN_EVENTS_TOPIC:+"$RUN_EVENTS_TOPIC"}; do
    exists gcloud pubsub topics describe "$topic" "${gc[@]}" ||
      run gcloud pubsub topics create "$topic" "${gc[@]}"
  done
  exists gcloud pubsub subscriptions describe "$DEAD_LETTER_SUBSCRIPTION" "${gc[@]}" ||
    run gcloud pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" \
      --topic="$DEAD_LETTER_TOPIC" "${gc[@]}"
  # The push request is the launch (the service answers when the instance is up), so the
  # ack deadline is the longest Pub/Sub allows. The audience is the bare service URL.
  local settings=(
    --push-endpoint="$SERVICE_URL/"
    --push-auth-service-account="$INVOKER_EMAIL"
    --push-auth-token-audience="$SERVICE_URL"
    --ack-deadline=600
    --min-retry-delay="$MIN_RETRY_DELAY"
    --max-retry-delay="$MAX_RETRY_DELAY"
    --dead-letter-topic="$DEAD_LETTER_TOPIC"
    --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
  )
  if exists gcloud pubsub subscriptions describe "$SUBSCRIPTION" "${gc[@]}"; then
    run gcloud pubsub subscriptions update "$SUBSCRIPTION" "${settings[@]}" "${gc[@]}"
  else
    run gcloud pubsub subscriptions create "$SUBSCRIPTION" --topic="$TOPIC" "${settings[@]}" "${gc[@]}"
  fi
}

# Separate from step_pubsub because the Pub/Sub emulator has no IAM (it answers 501): with
# CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB set it is skipped.
step_pubsub_iam() {
  if [ -n "${CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB:-}" ]; then
    say "Pub/Sub IAM skipped: CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB points at an emulator"
    return
  fi
  say "Pub/Sub service agent: publish dead letters, acknowledge forwarded messages"
  local agent
  agent="service-$(project_number)@gcp-sa-pubsub.iam.gserviceaccount.com"
  run gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTER_TOPIC" \
    --member="serviceAccount:$agent" --role=roles/pubsub.publisher "${gc[@]}"
  run gcloud pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" \
    --member="serviceAccount:$agent" --role=roles/pubsub.subscriber "${gc[@]}"
  if [ -n "$RUN_EVENTS_TOPIC" ]; then
    say "the service publishes run events to $RUN_EVENTS_TOPIC, and to no other topic"
    run gcloud pubsub topics add-iam-policy-binding "$RUN_EVENTS_TOPIC" \
      --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/pubsub.publisher "${gc[@]}"
  fi
}

# What planner command $1 prints of the profiles as deployed: the binary checks the profiles
# with the service's own variables, as the service will at start-up. The profiles are the
# local file step service ships (or would ship), else PROFILES_FILE as configured, a path from
# the repository's root or a gs:// object.
profile_plan() {
  local name profiles=${PROFILES_SOURCE:-${PROFILES_FILE:-}}
  [[ -z $profiles || $profiles == gs://* || $profiles == /* ]] || profiles="$root/$profiles"
  for name in "${SERVICE_VARIABLES[@]}"; do
    [ -z "${!name:-}" ] || export "${name?}"
  done
  if [ -n "$profiles" ]; then
    PROFILES_FILE=$profiles planner "$1" --project="$PROJECT"
  else
    planner "$1" --project="$PROJECT"
  fi
}

# The planner is this repository's binary: $NOTEBOOK_TRIGGER, or built with cargo.
planner() {
  if [ -n "${NOTEBOOK_TRIGGER:-}" ]; then
    "$NOTEBOOK_TRIGGER" "$@"
  else
    cargo run --quiet --locked --manifest-path="$root/Cargo.toml" -- "$@"
  fi
}

step_scheduler() {
  say "Cloud Scheduler jobs of $SCHEDULER_FILE in $SCHEDULER_LOCATION"
  local file=$SCHEDULER_FILE current="$workdir/scheduler-jobs.json" plan line
  [[ $file == /* ]] || file="$root/$file"
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "? gcloud scheduler jobs list --location=$SCHEDULER_LOCATION --project=$PROJECT --format=json"
    echo "[]" >"$current"
  else
    gcloud scheduler jobs list --location="$SCHEDULER_LOCATION" "${gc[@]}" --format=json >"$current"
  fi
  plan=$(planner scheduler plan "$file" --project="$PROJECT" --location="$SCHEDULER_LOCATION" \
    --topic="$TOPIC" --current="$current")
  if [ -z "$plan" ]; then
    echo "(scheduler jobs already match $SCHEDULER_FILE)"
  fi
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    [[ $line == "gcloud scheduler jobs "* ]] || die "unexpected line in the scheduler plan: $line"
    echo "+ $line"
    if [ "$DRY_RUN" -eq 0 ]; then
      # The planner shell-quotes every word (payloads included); see src/scheduler/shell.rs.
      eval "$line --quiet"
    fi
  done <<<"$plan"
}

if wants image || wants service; then
  IMAGE=$(image_name)
fi
wants apis && step_apis
wants registry && step_registry
wants image && step_image
wants accounts && step_accounts
wants service && step_service
wants runs && step_runs
wants pubsub && step_pubsub
wants pubsub-iam && step_pubsub_iam
wants scheduler && step_scheduler

say "done"
if [ -n "$SERVICE_URL" ]; then
  echo "Service URL: $SERVICE_URL"
fi
echo "Send a test message:"
echo "  gcloud pubsub topics publish $TOPIC --project=$PROJECT --message=TweetiNoteStartTopic"
echo "Read the service's logs:"
echo "  gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"$SERVICE\"' --project=$PROJECT --freshness=1h --limit=50"
