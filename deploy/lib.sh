# Shared by deploy.sh and teardown.sh: settings, names, and the run/exists helpers that make
# --dry-run print every command instead of running it. Sourced, not run.
# shellcheck shell=bash

DRY_RUN=0
# Values no printed command shows (a webhook URL is a credential): `run` prints <redacted>.
HIDDEN=()

die() {
  echo "error: $*" >&2
  exit 1
}

say() {
  echo "== $*" >&2
}

# Prints a command, shell-quoted and with the HIDDEN values redacted, then runs it unless
# --dry-run.
run() {
  local shown=("$@") value i
  for value in ${HIDDEN[@]+"${HIDDEN[@]}"}; do
    for i in "${!shown[@]}"; do
      shown[i]=${shown[i]//"$value"/<redacted>}
    done
  done
  echo "+ $(printf '%q ' "${shown[@]}")"
  if [ "$DRY_RUN" -eq 0 ]; then
    "$@"
  fi
}

# Runs a read-only check quietly; with --dry-run prints it and answers "missing", so that the
# command that would create the thing is printed too.
exists() {
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "? $(printf '%q ' "$@")"
    return 1
  fi
  "$@" >/dev/null 2>&1
}

# Runs a read command and prints its output; with --dry-run prints it and echoes $1 instead.
read_value() {
  local placeholder=$1
  shift
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "? $(printf '%q ' "$@")" >&2
    echo "$placeholder"
    return 0
  fi
  "$@"
}

# Loads the config file (if any), keeping values already set in the environment or by flags.
load_config() {
  local file=$1 line name
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*([A-Z_][A-Z0-9_]*)= ]] || continue
    name=${BASH_REMATCH[1]}
    if [ -z "${!name+x}" ]; then
      # The file is the operator's own shell assignments; evaluate just this one.
      eval "$line"
      # shellcheck disable=SC2163
      export "$name"
    fi
  done <"$file"
}

# Defaults and derived names; call after flags and the config are read. The names are used
# by the scripts that source this file.
# shellcheck disable=SC2034
derive_names() {
  : "${PROJECT:?set PROJECT in deploy/config.env or pass --project}"
  REGION=${REGION:-europe-west3}
  SCHEDULER_LOCATION=${SCHEDULER_LOCATION:-$REGION}
  SERVICE=${SERVICE:-notebook-trigger}
  REPOSITORY=${REPOSITORY:-notebook-trigger}
  TOPIC=${TOPIC:-notebook-trigger}
  SUBSCRIPTION=${SUBSCRIPTION:-$TOPIC-push}
  DEAD_LETTER_TOPIC=${DEAD_LETTER_TOPIC:-$TOPIC-dead-letter}
  DEAD_LETTER_SUBSCRIPTION=${DEAD_LETTER_SUBSCRIPTION:-$DEAD_LETTER_TOPIC-pull}
  RUNTIME_ACCOUNT=${RUNTIME_ACCOUNT:-notebook-trigger-run}
  INVOKER_ACCOUNT=${INVOKER_ACCOUNT:-notebook-trigger-push}
  VM_ACCOUNT=${VM_ACCOUNT:-notebook-trigger-vm}
  SCHEDULER_FILE=${SCHEDULER_FILE:-scheduler.yaml}
  CONCURRENCY=${CONCURRENCY:-10}
  MAX_INSTANCES=${MAX_INSTANCES:-3}
  MAX_DELIVERY_ATTEMPTS=${MAX_DELIVERY_ATTEMPTS:-5}
  MIN_RETRY_DELAY=${MIN_RETRY_DELAY:-10s}
  MAX_RETRY_DELAY=${MAX_RETRY_DELAY:-600s}
  RUNTIME_EMAIL="$RUNTIME_ACCOUNT@$PROJECT.iam.gserviceaccount.com"
  INVOKER_EMAIL="$INVOKER_ACCOUNT@$PROJECT.iam.gserviceaccount.com"
  VM_EMAIL="$VM_ACCOUNT@$PROJECT.iam.gserviceaccount.com"
  INSTANCE_SERVICE_ACCOUNT=${INSTANCE_SERVICE_ACCOUNT:-$VM_EMAIL}
  IMAGE_BASE="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/$SERVICE"
  # Replacing a fixed-id instance needs delete, which notebooks.runner lacks.
  if [ "${ON_EXISTING:-skip}" = "replace" ]; then
    NOTEBOOKS_ROLE=roles/notebooks.admin
  else
    NOTEBOOKS_ROLE=roles/notebooks.runner
  fi
  RUNS_BUCKET=${RUNS_BUCKET:-}
  RUN_EVENTS_TOPIC=${RUN_EVENTS_TOPIC:-}
  RUNNER_ROLE=${RUNNER_ROLE:-notebookTriggerRunner}
  WEBHOOK_SECRETS=${WEBHOOK_SECRETS:-}
  if [ -n "$RUNS_BUCKET" ]; then
    RUNNER_SCRIPT=${RUNNER_SCRIPT:-gs://$RUNS_BUCKET/notebook-trigger/runner.sh}
    # Only with a notebook: the service refuses a default profile with an output and none.
    if [ -n "${NOTEBOOK:-}" ]; then
      NOTEBOOK_OUTPUT=${NOTEBOOK_OUTPUT:-gs://$RUNS_BUCKET/runs}
    fi
  fi
  SCRIPT_BUCKET=""
  if [[ ${POST_STARTUP_SCRIPT:-} =~ ^gs://([^/]+)/ ]]; then
    SCRIPT_BUCKET=${BASH_REMATCH[1]}
  fi
}
