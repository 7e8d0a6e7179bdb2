#!/usr/bin/env bash
# notebook-trigger runner: the post-startup script of a notebook run.
#
# It reads its run spec from the instance metadata (as data: nothing read from metadata is
# ever evaluated), copies the notebook's folder into a work directory, executes the notebook
# with papermill under the run's time limit, uploads the executed notebook, the files the run
# wrote and this log to {output}/{run id}/, and always reports the outcome (with the notebook's
# result, outputs/result.json, when it wrote one) to the service with an identity token of the
# instance. When the report cannot be delivered in time it stops its
# own instance through the Notebooks API, so no compute outlives the run.
#
# What the notebook wrote is untrusted: file names may hold any byte, files may be links, and
# there may be many. Names travel NUL-separated, never as lines; only regular files inside the
# work directory are read; an upload that fails makes the run fail; the report, sent from a
# file, lists a bounded number of them. Parameter values are never printed, only their names.
#
# On a container instance it may start on the host, which has no papermill: it then hands
# itself over to the notebook container (nerdctl or docker) and runs there.
#
# Environment (set on a real VM by nobody; the local emulator sets them):
#   GCE_METADATA_HOST                          metadata server (default metadata.google.internal)
#   STORAGE_EMULATOR_HOST                      Cloud Storage JSON API (default storage.googleapis.com)
#   CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS  Notebooks API root (default notebooks.googleapis.com)
#   CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER  Secret Manager root (secretmanager.googleapis.com)
set -uo pipefail

readonly KEY=notebook-trigger
METADATA="http://${GCE_METADATA_HOST:-metadata.google.internal}/computeMetadata/v1"
STORAGE="${STORAGE_EMULATOR_HOST:-https://storage.googleapis.com}"
[[ "$STORAGE" == *://* ]] || STORAGE="http://$STORAGE"
STORAGE="${STORAGE%/}"
NOTEBOOKS="${CLOUDSDK_API_ENDPOINT_OVERRIDES_NOTEBOOKS:-https://notebooks.googleapis.com/}"
NOTEBOOKS="${NOTEBOOKS%/}"
SECRETMANAGER="${CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER:-https://secretmanager.googleapis.com/}"
SECRETMANAGER="${SECRETMANAGER%/}"
# The most files from outputs/ a report lists (the service keeps at most 1000 outputs); the
# rest are uploaded all the same, and counted in the log.
readonly LIST_AT_MOST=500
# The most files the log names as not uploaded; the rest are counted.
readonly NAME_AT_MOST=20

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

# A JSON string of $1: quotes, backslashes and control characters escaped, invalid UTF-8 dropped
# (bytes past ASCII are dropped too where iconv is missing). Plain ASCII forks nothing: a
# report lists hundreds of names.
json_string() {
  local LC_ALL=C s=$1
  if [[ "$s" == *[$'\x80'-$'\xff']* ]]; then
    if command -v iconv >/dev/null 2>&1; then
      s=$(printf '%s' "$s" | iconv -c -f UTF-8 -t UTF-8 2>/dev/null)
    else
      s=$(printf '%s' "$s" | tr -d '\200-\377')
    fi
  fi
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  [[ "$s" == *[[:cntrl:]]* ]] && s=$(printf '%s' "$s" | tr -d '\000-\037\177')
  printf '"%s"' "$s"
}

# $1 quoted for the log on one line: a name with a newline cannot forge a line of its own.
shown() {
  local LC_ALL=C
  printf '%q' "$1"
}

access_token() {
  metadata instance/service-accounts/default/token |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p'
}

# gs://BUCKET/NAME → $BUCKET and $OBJECT, the name byte for byte (spaces at either end included).
split_gs() {
  local rest=${1#gs://}
  BUCKET=${rest%%/*}
  OBJECT=${rest#*/}
}

gcs_download() { # gs://B/O FILE
  split_gs "$1"
  curl -fsS --max-time 300 -H "Authorization: Bearer $TOKEN" -o "$2" \
    "$STORAGE/storage/v1/b/$(urlencode "$BUCKET")/o/$(urlencode "$OBJECT")?alt=media"
}

# Streams FILE to gs://B/O. Any failure is one (--fail: an HTTP error too), and curl never
# sends an empty body for a file it cannot read, as --data-binary @FILE would.
gcs_upload() { # FILE gs://B/O
  split_gs "$2"
  curl -fsS --max-time 300 -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/octet-stream' -T "$1" -o /dev/null \
    "$STORAGE/upload/storage/v1/b/$(urlencode "$BUCKET")/o?uploadType=media&name=$(urlencode "$OBJECT")"
}

# Object names under gs://B/PREFIX/ (every page), each ended by a NUL: names may hold newlines.
gcs_list() {
  local page='' answer
  split_gs "$1"
  local bucket=$BUCKET prefix=$OBJECT
  while :; do
    answer=$(curl -fsS --max-time 60 -H "Authorization: Bearer $TOKEN" \
      "$STORAGE/storage/v1/b/$(urlencode "$bucket")/o?prefix=$(urlencode "$prefix")&pageToken=$(urlencode "$page")") || return 1
    python3 -c 'import json,sys; [sys.stdout.buffer.write(i["name"].encode() + b"\0") for i in json.load(sys.stdin).get("items", [])]' <<<"$answer" || return 1
    page=$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("nextPageToken", ""))' <<<"$answer")
    [ -n "$page" ] || return 0
  done
}

# Whether $1 is a relative path that stays inside the directory it is joined to: no leading
# slash, no empty, `.` or `..` segment, no control character.
inside() {
  local LC_ALL=C path=$1
  [[ -n "$path" && "$path" != /* && "/$path/" != *//* && "/$path/" != */../* &&
    "/$path/" != */./* && "$path" != *[[:cntrl:]]* ]]
}

# Copies the notebook's folder (gs:// or a local path) into $WORK. An object whose name would
# land outside $WORK (a `..` segment, an empty one) is refused, and the log says so.
fetch_notebook() {
  local source=$1 folder bucket prefix name relative
  if [[ "$source" == gs://* ]]; then
    folder=${source%/*}
    split_gs "$folder/"
    bucket=$BUCKET prefix=$OBJECT
    gcs_list "$folder/" >"$WORK.objects" || { say "cannot list $folder/"; return 1; }
    while IFS= read -r -d '' name; do
      relative=${name#"$prefix"}
      [[ -z "$relative" || "$relative" == */ ]] && continue # a folder's placeholder
      if ! inside "$relative"; then
        say "refused gs://$bucket/$(shown "$name"): its name leads outside the work directory"
        continue
      fi
      if ! mkdir -p -- "$WORK/$(dirname -- "$relative")" ||
        ! gcs_download "gs://$bucket/$name" "$WORK/$relative"; then
        say "cannot download gs://$bucket/$(shown "$name")"
        return 1
      fi
    done <"$WORK.objects"
  elif [ -f "$source" ]; then
    cp -a -- "$(dirname -- "$source")/." "$WORK/"
  else
    say "the notebook $source is neither gs:// nor a file here"
    return 1
  fi
  [ -f "$WORK/$(basename -- "$source")" ] || { say "the notebook $source was not found"; return 1; }
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
    -e CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER="${CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER:-}" \
    "$container" bash /tmp/notebook-trigger-runner.sh
}

# The Python this script runs, put in place of the @…@ lines when the binary builds the script
# (src/runner/*.py say what each does).
KERNEL_WATCH=$(
  cat <<'PY'
@kernel_watch.py@
PY
)
EXPLAIN=$(
  cat <<'PY'
@explain.py@
PY
)
PARAMETERS=$(
  cat <<'PY'
@parameters.py@
PY
)
readonly KERNEL_WATCH EXPLAIN PARAMETERS

# papermill as this runner starts it: watched where python3 imports it, else as installed.
papermill_command() {
  if python3 -c 'import importlib.util as u, sys
sys.exit(not (u.find_spec("papermill") and u.find_spec("jupyter_client")))' 2>/dev/null; then
    PAPERMILL_COMMAND=(python3 -c "$KERNEL_WATCH" "$WORK.kernel")
  else
    PAPERMILL_COMMAND=(papermill)
  fi
}

# "killed by SIGNAME" for signal number $1; a SIGKILL nobody here sent is most often the
# kernel's out-of-memory killer.
killed_by() {
  local name
  name=$(kill -l "$1" 2>/dev/null)
  if [[ "$name" =~ ^[A-Z0-9+-]+$ ]]; then
    printf 'killed by SIG%s' "${name#SIG}"
  else
    printf 'killed by signal %s' "$1"
  fi
  if [ "$1" = 9 ]; then printf ': out of memory?'; fi
}

# OUTCOME and ERROR from papermill's exit status $1 after $2 seconds under timeout(1). timeout
# answers 124 when the limit fired, or 137 when it then had to SIGKILL (itself included); a
# signal's death is 128+N. Only a limit that fired is a time-out, and the elapsed time tells
# it from a SIGKILL that came early (the out-of-memory killer's).
judge() {
  local code=$1 elapsed=$2 kernel=''
  if ((code == 0)); then
    OUTCOME=succeeded
  elif ((elapsed >= MAX_RUN_TIME)) && ((code == 124 || code == 137)); then
    OUTCOME=timed_out ERROR="the notebook ran longer than ${MAX_RUN_TIME}s"
  elif ((code == 138)) && [ -f "$WORK.kernel" ]; then
    kernel=$(cat "$WORK.kernel")
    case "$kernel" in
      signal\ *) ERROR="the kernel was $(killed_by "${kernel#signal }")" ;;
      exit\ *) ERROR="the kernel died (exit status ${kernel#exit })" ;;
      *) ERROR="the kernel died" ;;
    esac
    OUTCOME=failed
  elif ((code == 138)) && [ "${PAPERMILL_COMMAND[0]}" = papermill ]; then
    OUTCOME=failed ERROR="the kernel died (papermill exited with 138)"
  elif ((code > 128)); then
    OUTCOME=failed ERROR="papermill was $(killed_by $((code - 128)))"
  else
    OUTCOME=failed ERROR="papermill exited with $code"
  fi
}

# Every entry under $WORK but directories, as "TYPE MTIME SIZE PATH", each ended by a NUL and
# sorted: a name holding a newline stays inside its own record.
snapshot() {
  find "$WORK" -mindepth 1 ! -type d -printf '%y %T@ %s %P\0' | LC_ALL=C sort -z
}

# Why gs://B/$1 cannot be an object name, or nothing: Cloud Storage takes UTF-8 names of at
# most 1024 bytes without CR or LF; other control characters are refused here too.
unfit() {
  local LC_ALL=C name=$1
  split_gs "$name"
  if [[ "$OBJECT" == *[[:cntrl:]]* ]]; then
    printf 'a control character (a newline, say) in its name'
  elif [[ "$OBJECT" == *[$'\x80'-$'\xff']* ]] && ! iconv -f UTF-8 -t UTF-8 <<<"$OBJECT" >/dev/null 2>&1; then
    printf 'its name is not UTF-8'
  elif ((${#OBJECT} > 1024)); then
    printf 'its object name would be longer than 1024 bytes'
  fi
}

# Uploads $WORK/$1 as $2 through one descriptor, checked after opening to be a regular file
# inside $WORK: a link, or one swapped in since the listing, cannot make it read elsewhere.
upload_work_file() {
  local file="$WORK/$1" fd real status
  [ -f "$file" ] && [ ! -L "$file" ] || return 1
  exec {fd}<"$file" || return 1
  real=$(readlink "/proc/$$/fd/$fd")
  if [[ "$real" == "$WORK"/* ]] && [ -f "/dev/fd/$fd" ]; then
    gcs_upload "/dev/fd/$fd" "$2"
    status=$?
  else
    say "not uploaded: $(shown "$real") is outside the work directory"
    status=1
  fi
  exec {fd}<&-
  return "$status"
}

# The run is no success when its files were not all saved; $1 says which were not.
not_saved() {
  if [ "$OUTCOME" = succeeded ]; then
    OUTCOME=failed ERROR="the notebook succeeded, but $1"
  else
    ERROR="${ERROR:+$ERROR; }$1"
  fi
}

# shellcheck source=src/runner/secrets.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/secrets.sh"
# shellcheck source=src/runner/report.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/report.sh"

# --- the run ---------------------------------------------------------------------------------

RUN_ID=$(attribute "$KEY-run-id")
if [ -z "$RUN_ID" ]; then
  say "no $KEY-run-id in the instance metadata: not a notebook-trigger run, nothing to do"
  exit 0
fi
command -v papermill >/dev/null 2>&1 || hand_over

# Its real path: what the notebook writes is checked to resolve inside it.
WORK=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/run-$RUN_ID.XXXXXX")" && pwd -P)
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
RESULT_ERROR=''
OUTPUTS=()
PAPERMILL=''
PAPERMILL_COMMAND=(papermill)

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
  fetch_secrets || return 1
  snapshot >"$WORK.before"
  papermill_command
  local input names began=$SECONDS
  input=$(basename -- "$NOTEBOOK")
  # The parameters as papermill reads them (parameters.py), and their names, never their values.
  names=$(python3 -c "$PARAMETERS" "$WORK.parameters.json" "$WORK.parameters.yaml" 2>"$WORK.python-error") ||
    { cp "$WORK.parameters.json" "$WORK.parameters.yaml"; names="(unreadable: $(tail -n 1 "$WORK.python-error"))"; }
  say "papermill $input, parameters $names, at most ${MAX_RUN_TIME}s"
  with_secrets timeout --kill-after=30 "$MAX_RUN_TIME" \
    "${PAPERMILL_COMMAND[@]}" "$WORK/$input" "$WORK.executed.ipynb" -f "$WORK.parameters.yaml" \
    --cwd "$WORK" --log-output --no-progress-bar &
  PAPERMILL=$!
  wait "$PAPERMILL"
  EXIT_CODE=$?
  PAPERMILL=''
  judge "$EXIT_CODE" $((SECONDS - began))
  read_result
  [ "$OUTCOME" = succeeded ] || explain
}

# The failing cell, its exception and traceback into $WORK.failure.json, for the report; its
# one line becomes the error where papermill's exit status says nothing more. Status 3 is no
# cell with an error; any other failure is said in the log.
explain() {
  local said status=0
  said=$(python3 -c "$EXPLAIN" "$WORK.executed.ipynb" "$WORK.failure.json" 2>"$WORK.python-error") || status=$?
  ((status == 0 || status == 3)) || say "the failing cell cannot be read: $(tail -n 1 "$WORK.python-error")"
  ((status == 0)) || { rm -f "$WORK.failure.json"; return 0; }
  if [[ "$ERROR" == "papermill exited with "* && -n "$said" ]]; then ERROR=$said; fi
}

# Uploads the executed notebook and every file the run wrote or changed in $WORK (under
# outputs/, by its path); lists the notebook and the first LIST_AT_MOST files in OUTPUTS.
upload_outputs() {
  local base="$OUTPUT/$RUN_ID" entry path object reason
  local uploaded=0 skipped=0 failed=0 first_failed=''
  object="$base/$(basename -- "$NOTEBOOK")"
  if [ -f "$WORK.executed.ipynb" ] && [ ! -L "$WORK.executed.ipynb" ]; then
    if gcs_upload "$WORK.executed.ipynb" "$object"; then OUTPUTS+=("$object"); else
      failed=1 first_failed=$object
    fi
  fi
  [ -f "$WORK.before" ] && while IFS= read -r -d '' entry; do
    path=${entry#* * * }
    object="$base/outputs/$path"
    reason=$(unfit "$object")
    [ "${entry%% *}" = f ] || reason='it is not a regular file (a link, say)'
    if [ -n "$reason" ]; then
      skipped=$((skipped + 1))
      ((skipped > NAME_AT_MOST)) || say "not uploaded: outputs/$(shown "$path"): $reason"
    elif upload_work_file "$path" "$object"; then
      uploaded=$((uploaded + 1))
      ((uploaded > LIST_AT_MOST)) || OUTPUTS+=("$object")
    else
      failed=$((failed + 1))
      first_failed=${first_failed:-$object}
    fi
  done < <(snapshot | LC_ALL=C comm -z -13 "$WORK.before" -)
  say "uploaded $uploaded files the run wrote to $base/outputs/"
  ((uploaded > LIST_AT_MOST)) &&
    say "the report lists $LIST_AT_MOST of them, and $((uploaded - LIST_AT_MOST)) more are not listed"
  ((skipped > NAME_AT_MOST)) && say "and $((skipped - NAME_AT_MOST)) more files not uploaded"
  if ((failed > 0)); then
    # Names that reach an upload hold no control character: they can be shown as they are.
    not_saved "uploading $first_failed failed$( ((failed == 1)) || printf ' (and %s more)' $((failed - 1)))"
  fi
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
  if [ -z "$OUTPUT" ]; then
    :
  elif gcs_upload "$LOG" "$OUTPUT/$RUN_ID/runner.log"; then
    OUTPUTS+=("$OUTPUT/$RUN_ID/runner.log")
  else
    not_saved "uploading $OUTPUT/$RUN_ID/runner.log failed"
    say "outcome $OUTCOME: $ERROR"
  fi
  report || stop_self
  rm -rf "$WORK" "$WORK".*
  [ "$OUTCOME" = succeeded ]
  exit
}

run_notebook
finish
