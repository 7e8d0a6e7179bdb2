# notebook-trigger runner: what the runner tells the service. runner.sh sources this file; the
# deployed runner carries it inline, in place of that line (src/runner/mod.rs).
#
# The report says how the run ended, what it saved, why it failed (the failing cell, from
# explain.py) and the notebook's result: the JSON in outputs/result.json, checked by result.py
# (a regular file inside the work directory, at most 64 KiB, JSON the service can read back).
# A result that is not fit is left out and the report says why; it never changes the outcome.
# The report is written to a file and POSTed until the service takes it or REPORT_WITHIN ends.
# shellcheck shell=bash

RESULT=$(
  cat <<'PY'
@result.py@
PY
)
readonly RESULT

# The notebook's result into $WORK.result.json, or why there is none into RESULT_ERROR; nothing
# when the notebook wrote no outputs/result.json. Status 3 is no file, 4 a file that is no
# result (result.py says why on stdout); any other is result.py failing, said in the log.
read_result() {
  local said status=0
  said=$(python3 -c "$RESULT" "$WORK" "$WORK.result.json" 2>"$WORK.python-error") || status=$?
  case "$status" in
    0) say "result: outputs/result.json, $(wc -c <"$WORK.result.json") bytes" ;;
    3) ;;
    4) RESULT_ERROR=$said && say "no result: $said" ;;
    *) RESULT_ERROR="outputs/result.json cannot be read: $(tail -n 1 "$WORK.python-error")"
       say "no result: $RESULT_ERROR" ;;
  esac
  ((status == 0)) || rm -f "$WORK.result.json"
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
  printf '],"error":%s,"failure":%s,"log_tail":%s,"result_error":%s,"result":' \
    "$(json_string "$ERROR")" "$(cat "$WORK.failure.json" 2>/dev/null || printf null)" \
    "$(json_string "$tail")" "$(json_string "$RESULT_ERROR")"
  # Straight from the file: a result may be larger than one argument should be.
  cat "$WORK.result.json" 2>/dev/null || printf null
  printf '}'
}

# POSTs the report until it is taken, refused for good, or REPORT_WITHIN seconds have passed.
report() {
  local deadline=$((SECONDS + REPORT_WITHIN)) delay=1 status token
  # From a file: hundreds of outputs make a body too long for one argument.
  report_body >"$WORK.report.json"
  while :; do
    token=$(metadata "instance/service-accounts/default/identity?audience=$(urlencode "$REPORT_AUDIENCE")&format=full")
    status=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data-binary "@$WORK.report.json" "$REPORT_URL")
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
