#!/usr/bin/env bash
# notebook-trigger runner: the post-startup script of a notebook run.
#
# It reads its run spec from the instance metadata (as data: nothing read from metadata is
# ever evaluated), copies the notebook's folder into a work directory, executes the notebook
# with papermill under the run's time limit, uploads the executed notebook, the files the run
# wrote and this log to {output}/{run id}/, and always reports the outcome to the service with
# an identity token of the instance. When the report cannot be delivered in time it stops its
# own instance through the Notebooks API, so no compute outlives the run.
#
# On a container instance it may start on the host, which has no papermill: it then hands
# itself over to the notebook container (nerdctl or docker) and runs there.
#
# Environment (set on a real VM by nobody; the local emulator sets them):
#   GCE_METADATA_HOST                          metadata server (default metadata.google.internal)
#   STORAGE_EMULATOR_HOST                      Cloud Storage JSON API (default storage.googleapis.com)
#   CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS  Notebooks API root (default notebooks.googleapis.com)
set -uo pipefail

readonly KEY=notebook-trigger
METADATA="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"
STORAGE="${STORAGE_EMULATOR_HOST:-https://storage.googleapis.com}"
[[ "$STORAGE" == *://* ]] || STORAGE="http://$STORAGE"
STORAGE="${STORAGE%/}"
NOTEBOOKS="${CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS:-https://notebooks.googleapis.com/}"
NOTEBOOKS="${NOTEBOOKS%/}"

say() { printf '%s runner: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

metadata() {
  curl -fsS --max-time 10 -H 'Metadata-Flavor: Google' "$METADATA/$1"
}

# An instance attribute, or empty when it is not set.
attribute() { metadata "instance/attributes/$1" 2>/dev/null || true; }

urlencode() {
  local LC_ALL=C text=$1 out='' c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case "$c" in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c" && out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# A JSON string of $1: quotes, backslashes and control characters escaped, invalid UTF-8 dropped.
json_string() {
  local s
  s=$(printf '%s' "$1" | iconv -c -f UTF-8 -t UTF-8 2>/dev/null || printf '%s' "$1")
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
  printf '"%s"' "$s"
}

access_token() {
  metadata instance/service-accounts/default/token |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p'
}

# gs://BUCKET/NAME → "BUCKET NAME"
split_gs() {
  local rest=${1#gs://}
  printf '%s %s' "${rest%%/*}" "${rest#*/}"
}

gcs_download() { # gs://B/O FILE
  local bucket name
  read -r bucket name <<<"$(split_gs "$1")"
  curl -fsS --max-time 300 -H "Authorization: Bearer $TOKEN" -o "$2" \
    "$STORAGE/storage/v1/b/$(urlencode "$bucket")/o/$(urlencode "$name")?alt=media"
}

gcs_upload() { # FILE gs://B/O
  local bucket name
  read -r bucket name <<<"$(split_gs "$2")"
  curl -fsS --max-time 300 -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$1" -o /dev/null \
    "$STORAGE/upload/storage/v1/b/$(urlencode "$bucket")/o?uploadType=media&name=$(urlencode "$name")"
}

# Object names under gs://B/PREFIX/, one per line (every page).
gcs_list() {
  local bucket prefix page='' answer
  read -r bucket prefix <<<"$(split_gs "$1")"
  while :; do
    answer=$(curl -fsS --max-time 60 -H "Authorization: Bearer $TOKEN" \
      "$STORAGE/storage/v1/b/$(urlencode "$bucket")/o?prefix=$(urlencode "$prefix")&pageToken=$(urlencode "$page")") || return 1
    python3 -c 'import json,sys; [print(i["name"]) for i in json.load(sys.stdin).get("items", [])]' <<<"$answer" || return 1
    page=$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("nextPageToken", ""))' <<<"$answer")
    [ -n "$page" ] || return 0
  done
}

# Copies the notebook's folder (gs:// or a local path) into $WORK.
fetch_notebook() {
  local source=$1 folder name
  if [[ "$source" == gs://* ]]; then
    read -r bucket _ <<<"$(split_gs "$source")"
    folder=${source%/*}
    local names
    names=$(gcs_list "$folder/") || { say "cannot list $folder/"; return 1; }
    while IFS= read -r name; do
      [ -n "$name" ] || continue
      local relative=${name#"${folder#gs://"$bucket"/}/"}
      [[ "$relative" == */ ]] && continue
      mkdir -p "$WORK/$(dirname "$relative")"
      gcs_download "gs://$bucket/$name" "$WORK/$relative" || { say "cannot download gs://$bucket/$name"; return 1; }
    done <<<"$names"
  elif [ -f "$source" ]; then
    cp -a "$(dirname "$source")/." "$WORK/"
  else
    say "the notebook $source is neither gs:// nor a file here"
    return 1
  fi
  [ -f "$WORK/$(basename "$source")" ] || { say "the notebook $source was not found"; return 1; }
}

# On a container host without papermill: run this script inside the notebook container.
hand_over() {
  local container tool found=''
  container=$(attribute "$KEY-container")
  container=${container:-payload-container}
  for tool in nerdctl docker; do
    if command -v "$tool" >/dev/null 2>&1 && "$tool" inspect "$container" >/dev/null 2>&1; then
      found=$tool
      break
    fi
  done
  [ -n "$found" ] || return 1
  say "no papermill here: running inside the container $container ($found)"
  "$found" cp "$0" "$container:/tmp/notebook-trigger-runner.sh" || return 1
  exec "$found" exec \
    -e GCE_METADATA_HOST="${GCE_METADATA_HOST:-}" \
    -e STORAGE_EMULATOR_HOST="${STORAGE_EMULATOR_HOST:-}" \
    -e CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS="${CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS:-}" \
    "$container" bash /tmp/notebook-trigger-runner.sh
}

# --- the run ---------------------------------------------------------------------------------

RUN_ID=$(attribute "$KEY-run-id")
if [ -z "$RUN_ID" ]; then
  say "no $KEY-run-id in the instance metadata: not a notebook-trigger run, nothing to do"
  exit 0
fi
command -v papermill >/dev/null 2>&1 || hand_over

WORK=$(mktemp -d "${TMPDIR:-/tmp}/run-$RUN_ID.XXXXXX")
LOG="$WORK.log"
# tee ignores the TERM a stopping VM sends its group, so the runner's last lines still reach
# the log and the console (the runner itself reports before it goes).
exec > >(trap '' TERM INT HUP && exec tee -a "$LOG") 2>&1
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NOTEBOOK=$(attribute "$KEY-notebook")
OUTPUT=$(attribute "$KEY-output")
OUTPUT=${OUTPUT%/}
MAX_RUN_TIME=$(attribute "$KEY-max-run-time")
REPORT_URL=$(attribute "$KEY-report-url")
REPORT_AUDIENCE=$(attribute "$KEY-report-audience")
REPORT_WITHIN=$(attribute "$KEY-report-within")
[[ "$MAX_RUN_TIME" =~ ^[0-9]+$ ]] || MAX_RUN_TIME=3600
[[ "$REPORT_WITHIN" =~ ^[0-9]+$ ]] || REPORT_WITHIN=600
PROJECT=$(metadata project/project-id)
ZONE=$(metadata instance/zone)
ZONE=${ZONE##*/}
NAME=$(metadata instance/name)
TOKEN=$(access_token)
say "run $RUN_ID of $NOTEBOOK on projects/$PROJECT/locations/$ZONE/instances/$NAME"

OUTCOME=failed
EXIT_CODE=-1
ERROR=''
OUTPUTS=()
PAPERMILL=''

# shellcheck disable=SC2317 # called by the trap below
on_signal() {
  say "stopped by a signal"
  [ -n "$PAPERMILL" ] && kill -TERM "$PAPERMILL" 2>/dev/null
  OUTCOME=cancelled
  ERROR="the runner was stopped by a signal"
  finish
}
trap on_signal TERM INT HUP

run_notebook() {
  fetch_notebook "$NOTEBOOK" || { ERROR="cannot fetch the notebook $NOTEBOOK"; return 1; }
  attribute "$KEY-parameters" >"$WORK.parameters.json"
  [ -s "$WORK.parameters.json" ] || printf '{}' >"$WORK.parameters.json"
  find "$WORK" -type f -printf '%P %T@ %s\n' | sort >"$WORK.before"
  local input
  input=$(basename "$NOTEBOOK")
  say "papermill $input, parameters $(tr -d '\n' <"$WORK.parameters.json" | head -c 200), at most ${MAX_RUN_TIME}s"
  timeout --kill-after=30 "$MAX_RUN_TIME" \
    papermill "$WORK/$input" "$WORK.executed.ipynb" -f "$WORK.parameters.json" \
    --cwd "$WORK" --log-output --no-progress-bar &
  PAPERMILL=$!
  wait "$PAPERMILL"
  EXIT_CODE=$?
  PAPERMILL=''
  case "$EXIT_CODE" in
    0) OUTCOME=succeeded ;;
    124 | 137) OUTCOME=timed_out ERROR="the notebook ran longer than ${MAX_RUN_TIME}s" ;;
    *) OUTCOME=failed ERROR="papermill exited with $EXIT_CODE" ;;
  esac
}

upload_outputs() {
  local base="$OUTPUT/$RUN_ID" path
  if [ -f "$WORK.executed.ipynb" ]; then
    gcs_upload "$WORK.executed.ipynb" "$base/$(basename "$NOTEBOOK")" &&
      OUTPUTS+=("$base/$(basename "$NOTEBOOK")")
  fi
  if [ -f "$WORK.before" ]; then
    while IFS= read -r path; do
      gcs_upload "$WORK/$path" "$base/outputs/$path" && OUTPUTS+=("$base/outputs/$path")
    done < <(find "$WORK" -type f -printf '%P %T@ %s\n' | sort | comm -13 "$WORK.before" - | sed 's/ [^ ]* [^ ]*$//')
  fi
}

report_body() {
  local first=1 item tail
  tail=$(tail -n 50 "$LOG" 2>/dev/null | tail -c 8000)
  printf '{"run_id":%s,"outcome":"%s","exit_code":%s,"started":"%s","finished":"%s","outputs":[' \
    "$(json_string "$RUN_ID")" "$OUTCOME" "$EXIT_CODE" "$STARTED" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for item in "${OUTPUTS[@]}"; do
    [ $first -eq 1 ] || printf ','
    first=0
    json_string "$item"
  done
  printf '],"error":%s,"log_tail":%s}' "$(json_string "$ERROR")" "$(json_string "$tail")"
}

# POSTs the report until it is taken, refused for good, or REPORT_WITHIN seconds have passed.
report() {
  local deadline=$((SECONDS + REPORT_WITHIN)) delay=1 status token body
  body=$(report_body)
  while :; do
    token=$(metadata "instance/service-accounts/default/identity?audience=$(urlencode "$REPORT_AUDIENCE")&format=full")
    status=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data-binary "$body" "$REPORT_URL")
    case "$status" in
      2??) say "reported $OUTCOME to $REPORT_URL"; return 0 ;;
      400 | 401 | 403 | 404 | 409 | 413 | 422) say "the service refused the report ($status)"; return 1 ;;
    esac
    ((SECONDS + delay < deadline)) || break
    say "report answered ${status:-nothing}; again in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
  say "the report could not be delivered within ${REPORT_WITHIN}s"
  return 1
}

stop_self() {
  local instance="projects/$PROJECT/locations/$ZONE/instances/$NAME"
  say "stopping $instance myself"
  TOKEN=$(access_token)
  curl -fsS --max-time 60 -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data-binary '{}' -o /dev/null \
    "$NOTEBOOKS/v2/$instance:stop" || say "the stop was refused too: the reaper will find $instance"
}

finish() {
  trap '' TERM INT HUP PIPE
  TOKEN=$(access_token)
  if [ -n "$OUTPUT" ]; then upload_outputs; fi
  say "outcome $OUTCOME (exit code $EXIT_CODE)${ERROR:+: $ERROR}"
  if [ -n "$OUTPUT" ]; then gcs_upload "$LOG" "$OUTPUT/$RUN_ID/runner.log" && OUTPUTS+=("$OUTPUT/$RUN_ID/runner.log"); fi
  report || stop_self
  rm -rf "$WORK" "$WORK".*
  [ "$OUTCOME" = succeeded ]
  exit
}

run_notebook
finish
