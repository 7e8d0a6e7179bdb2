# notebook-trigger runner: the run's secrets. runner.sh sources this file; the deployed runner
# carries it inline, in place of that line (src/runner/mod.rs).
#
# The metadata names them, one "NAME=projects/P/secrets/S/versions/V" per line. Each value is
# read from Secret Manager with the VM's token before papermill starts and kept in this shell's
# memory only: never in a file, an argument, a log line or this shell's environment. It is
# exported in the subshell that becomes papermill, so papermill and its kernel alone hold it.
# A secret that cannot be read fails the run, with an error naming the variable and the secret.
# shellcheck shell=bash disable=SC2034 # ERROR is runner.sh's, which reports it

# Lower case: no secret's variable can be one of them.
secret_names=()
secret_values=()

# Google's error answer $1 as "STATUS: message".
google_error() {
  printf '%s' "$1" | tr '\n' ' ' |
    sed -n 's/.*"message" *: *"\(\([^"\\]\|\\.\)*\)".*"status" *: *"\([A-Z_]*\)".*/\3: \1/p' |
    grep . || printf 'no error from Secret Manager'
}

# Reads every secret the metadata names, or sets ERROR and fails at the first it cannot read.
fetch_secrets() {
  local name secret answer body data nuls
  while IFS='=' read -r name secret; do
    [ -n "$name$secret" ] || continue
    if ! [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ && "$secret" =~ ^projects/[^/]+/secrets/[^/]+/versions/[^/]+$ ]]; then
      ERROR="the secret line $(shown "$name=$secret") is not VARIABLE=projects/P/secrets/S/versions/V"
      return 1
    elif ! (unset -v "$name") 2>/dev/null; then
      ERROR="$name cannot hold a secret: the runner's shell keeps it read-only"
      return 1
    fi
    answer=$(curl -sS --max-time 60 -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" \
      "$SECRETMANAGER/v1/$secret:access")
    body=${answer%$'\n'*}
    if [ "${answer##*$'\n'}" != 200 ]; then
      ERROR="cannot read $name from $secret (HTTP ${answer##*$'\n'}): $(google_error "$body")"
      return 1
    fi
    # JSON may escape "=" (\u003d); an empty payload has no "data" at all.
    body=${body//\\u003d/=}
    data=$(printf '%s' "$body" | sed -n 's|.*"data" *: *"\([A-Za-z0-9+/=_-]*\)".*|\1|p')
    if [ -z "$data" ] && [[ "$body" == *'"data"'* ]]; then
      ERROR="cannot read $name from $secret: Secret Manager's payload.data is not base64 text"
      return 1
    fi
    if ! nuls=$(printf '%s' "$data" | base64 -d 2>/dev/null | tr -dc '\0' | wc -c) || ((nuls > 0)); then
      ERROR="cannot give $name the secret $secret: its payload is no text a variable can hold"
      return 1
    fi
    secret_names+=("$name")
    # The x keeps the value's own trailing newlines from the command substitution.
    secret_values+=("$(printf '%s' "$data" | base64 -d && printf x)")
    secret_values[-1]=${secret_values[-1]%x}
  done <<<"$(attribute "$KEY-secrets")"
  ((${#secret_names[@]} == 0)) || say "secrets for the kernel: ${secret_names[*]}"
}

# Runs "$@" with the secrets in its environment; run in a subshell of its own, which it becomes.
# A name the shell gives a meaning to (SECONDS, say) is unset first, to be exported as text.
with_secrets() {
  local i
  for i in "${!secret_names[@]}"; do
    unset -v "${secret_names[i]}"
    export "${secret_names[i]}=${secret_values[i]}"
  done
  exec "$@"
}
