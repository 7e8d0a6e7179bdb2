# What the profiles' notify rules need of the deployment (README "Notifications and overdue
# runs"), as `notebook-trigger notify-sources` lists it: the variables their url_env names, in
# the service's environment, and the secrets their url_secret names, read by the service's own
# account. A webhook URL is a credential: no printed command shows one. Sourced by deploy.sh,
# whose settings and helpers it uses.
# shellcheck shell=bash
# deploy.sh assigns gc (gcloud's common flags), SERVICE_VARIABLES and the names used here.
# shellcheck disable=SC2154

# The `url_env NAME` and `url_secret SECRET` lines of the profiles as deployed.
notify_sources() {
  profile_plan notify-sources
}

# Lets the service's account read the secret $1 (projects/P/secrets/S), and no other.
grant_service_secret() {
  run gcloud secrets add-iam-policy-binding "$1" --member="serviceAccount:$RUNTIME_EMAIL" \
    --role=roles/secretmanager.secretAccessor "${gc[@]}"
}

# Step runs: the service reads each url_secret's secret when it sends.
grant_notify_secrets() {
  local sources field secret
  sources=$(notify_sources) || die "the profiles cannot be deployed (see the error above)"
  while read -r field secret; do
    [ "$field" = url_secret ] || continue
    grant_service_secret "$secret"
  done <<<"$sources"
}

# WEBHOOK_SECRETS' entries, NAME=SECRET[:VERSION], one a line; stops the deploy at one that is
# not.
webhook_secrets() {
  local entry entries
  IFS=',' read -ra entries <<<"${WEBHOOK_SECRETS:-}"
  for entry in ${entries[@]+"${entries[@]}"}; do
    entry=${entry//[[:space:]]/}
    [ -n "$entry" ] || continue
    [[ $entry =~ ^[A-Z0-9_]+=(projects/[a-z0-9-]+/secrets/)?[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?$ ]] ||
      die "WEBHOOK_SECRETS: '$entry' is not NAME=SECRET[:VERSION] (SECRET a secret of $PROJECT, or projects/P/secrets/S)"
    echo "$entry"
  done
}

# Step service, before the deploy: each variable a url_env names, for the service's
# environment. From Secret Manager when WEBHOOK_SECRETS says where (Cloud Run reads it as the
# service's account, which may read that secret alone: granted here, since the deploy checks
# it), else the deployer's own exported value, hidden from every printed command; with
# neither, the deploy stops. Sets WEBHOOK_ENV (NAME=VALUE) and WEBHOOK_REFS
# (NAME=SECRET:VERSION).
webhook_variables() {
  local sources entries field name reference secret value named=''
  sources=$(notify_sources) || die "the profiles cannot be deployed (see the error above)"
  entries=$(webhook_secrets) || exit 1
  WEBHOOK_ENV=()
  WEBHOOK_REFS=()
  while read -r field name; do
    [ "$field" = url_env ] || continue
    named+="$name "
    [[ " ${SERVICE_VARIABLES[*]} GOOGLE_CLOUD_PROJECT PORT HOST " != *" $name "* ]] ||
      die "notify: url_env $name is one of the service's own settings: name a variable of the webhook's own, such as SLACK_WEBHOOK"
    reference=$(grep -m1 "^$name=" <<<"$entries" || true)
    reference=${reference#*=}
    if [ -n "$reference" ]; then
      [[ $reference == *:* ]] || reference+=":latest"
      secret=${reference%:*}
      [[ $secret == projects/* ]] || secret="projects/$PROJECT/secrets/$secret"
      grant_service_secret "$secret"
      WEBHOOK_REFS+=("$name=$reference")
    elif value=$(printenv "$name") && [ -n "$value" ]; then
      HIDDEN+=("$value")
      WEBHOOK_ENV+=("$name=$value")
    else
      die "notify: url_env $name is not set for the service: export $name=https://… before deploying (the service gets your value, never printed), or have Cloud Run read it from Secret Manager with WEBHOOK_SECRETS=\"$name=SECRET\" in the config"
    fi
  done <<<"$sources"
  unnamed_webhook_secrets "$entries" "$named"
}

# Says which of WEBHOOK_SECRETS' entries ($1, one a line) name no variable of the rules' ($2,
# space-separated): those are left out, so that nothing the rules do not name reaches the
# service.
unnamed_webhook_secrets() {
  local entry name
  while IFS= read -r entry; do
    name=${entry%%=*}
    [ -z "$name" ] || [[ " $2 " == *" $name "* ]] ||
      say "WEBHOOK_SECRETS names $name, which no notify rule's url_env names: not given to the service"
  done <<<"$1"
}

# The service's secrets as one gcloud flag: exactly WEBHOOK_REFS, so that a variable moved
# out of Secret Manager, or no longer named, leaves the service too.
secrets_flag() {
  if [ ${#WEBHOOK_REFS[@]} -eq 0 ]; then
    echo "--clear-secrets"
  else
    local IFS=','
    echo "--set-secrets=${WEBHOOK_REFS[*]}"
  fi
}
