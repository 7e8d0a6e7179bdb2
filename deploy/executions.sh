# Grants for the profiles whose runs execute as Vertex AI notebook execution jobs (README
# "Grants for executions"). Sourced by deploy.sh, whose settings and helpers it uses.
# shellcheck shell=bash
# deploy.sh assigns gc (gcloud's common flags) and the names used here.
# shellcheck disable=SC2154

# Each execution account: the service may create jobs that run as it; it reads the run's
# parameterized notebook, which the service writes beside the run's record (and no record),
# writes the executed notebook into the run's folder, and pulls the profile's image. The
# service's own roles/notebooks.admin (step runs) holds aiplatform.notebookExecutionJobs.*.
grant_executions() {
  local accounts account default_vm=''
  accounts=$(profile_plan execution-accounts) || die "the profiles cannot be deployed (see the error above)"
  [ -n "$accounts" ] || return 0
  say "executions: the Vertex AI API, and what each execution's account needs"
  run gcloud services enable aiplatform.googleapis.com "${gc[@]}"
  local records="projects/_/buckets/$RUNS_BUCKET/objects/notebook-trigger-records/"
  local copies="expression=resource.name.startsWith(\"$records\") && resource.name.endsWith(\".ipynb\"),title=run-notebooks"
  local outside="expression=!resource.name.startsWith(\"$records\"),title=not-run-records"
  while read -r account; do
    [ -n "$account" ] || continue
    if [ "$account" = - ]; then
      [ -n "$default_vm" ] || default_vm="$(project_number)-compute@developer.gserviceaccount.com"
      account=$default_vm
    fi
    run gcloud iam service-accounts add-iam-policy-binding "$account" \
      --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/iam.serviceAccountUser "${gc[@]}"
    run gcloud storage buckets add-iam-policy-binding "gs://$RUNS_BUCKET" \
      --member="serviceAccount:$account" --role=roles/storage.objectViewer \
      --condition="$copies" "${gc[@]}"
    run gcloud storage buckets add-iam-policy-binding "gs://$RUNS_BUCKET" \
      --member="serviceAccount:$account" --role=roles/storage.objectCreator \
      --condition="$outside" "${gc[@]}"
    run gcloud projects add-iam-policy-binding "$PROJECT" --member="serviceAccount:$account" \
      --role=roles/artifactregistry.reader --condition=None --quiet
  done <<<"$accounts"
}
