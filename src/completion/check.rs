//! Whether a checked identity token speaks for the run it reports on.
//!
//! Google signs the token of any VM in any project, so a valid signature and audience only
//! say "some Compute Engine VM". The report is taken only when the token names a VM in the
//! service's project (`google.compute_engine`), that VM is an instance this service manages
//! (its managed-by label), carries the run's id label, and the token's `email` is the
//! account the instance runs as. Each check is pure, so every refusal is tested without a
//! network.

use crate::naming::LABEL_RUN_ID;
use crate::naming::{LABEL_MANAGED_BY, MANAGED_BY};
use crate::notebooks::Instance;
use crate::push_token::Claims;
use crate::run::RunId;

/// Why a valid token may not report on this run (answered 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the token names no Compute Engine instance (a runner asks for its identity token with format=full)"
    )]
    NotAnInstance,
    #[error("the token's instance is in project `{0}`, not this service's")]
    OtherProject(String),
    #[error("the token's instance `{0}` is not an instance name")]
    BadName(String),
    #[error("the token's instance {0} does not exist")]
    NoSuchInstance(String),
    #[error("instance {0} is not managed by this service")]
    NotManaged(String),
    #[error("instance {instance} carries run {carried}, not {reported}")]
    OtherRun {
        instance: String,
        carried: String,
        reported: RunId,
    },
    #[error("the token speaks for `{token}`, but instance {instance} runs as {runs_as}")]
    OtherAccount {
        token: String,
        instance: String,
        runs_as: String,
    },
}

/// The Notebooks resource name of the VM the token was issued to: on Workbench the VM's name
/// is the instance id and its zone the instance's location.
///
/// # Errors
/// [`Refusal`] when the token names no VM, or one in another project.
pub fn instance_name(claims: &Claims, project: &str) -> Result<String, Refusal> {
    let vm = claims
        .google
        .as_ref()
        .and_then(|g| g.compute_engine.as_ref())
        .ok_or(Refusal::NotAnInstance)?;
    if vm.project_id != project {
        return Err(Refusal::OtherProject(vm.project_id.clone()));
    }
    let segment = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !segment(&vm.zone) || !segment(&vm.instance_name) {
        return Err(Refusal::BadName(format!(
            "{}/{}",
            vm.zone, vm.instance_name
        )));
    }
    Ok(format!(
        "projects/{project}/locations/{}/instances/{}",
        vm.zone, vm.instance_name
    ))
}

/// Whether `instance`, as the API shows it, is the managed instance of `run` and the token's
/// account is the one it runs as.
///
/// # Errors
/// The first [`Refusal`] that applies.
pub fn speaks_for(instance: &Instance, claims: &Claims, run: &RunId) -> Result<(), Refusal> {
    let label = |key: &str| instance.labels.get(key).map(String::as_str);
    if label(LABEL_MANAGED_BY) != Some(MANAGED_BY) {
        return Err(Refusal::NotManaged(instance.name.clone()));
    }
    if label(LABEL_RUN_ID) != Some(run.as_str()) {
        return Err(Refusal::OtherRun {
            instance: instance.name.clone(),
            carried: label(LABEL_RUN_ID).unwrap_or("none").to_owned(),
            reported: run.clone(),
        });
    }
    let token = claims.email.as_deref().filter(|_| claims.email_verified());
    // An instance created without an account runs as the project's Compute Engine default.
    let runs_as = instance.service_account().map(str::to_owned).or_else(|| {
        claims
            .google
            .as_ref()
            .and_then(|g| g.compute_engine.as_ref())
            .and_then(|vm| vm.default_account())
    });
    match (token, runs_as) {
        (Some(token), Some(runs_as)) if token == runs_as => Ok(()),
        (token, runs_as) => Err(Refusal::OtherAccount {
            token: token.unwrap_or("(no verified email)").to_owned(),
            instance: instance.name.clone(),
            runs_as: runs_as.unwrap_or_else(|| "(no account named)".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ACCOUNT: &str = "runner@p.iam.gserviceaccount.com";

    fn run() -> RunId {
        RunId::parse("r0123456789abcdef").unwrap()
    }

    fn claims(changes: Value) -> Claims {
        let mut claims = json!({
            "email": ACCOUNT, "email_verified": true,
            "google": {"compute_engine": {
                "instance_name": "nb-1", "zone": "us-central1-a", "project_id": "p",
                "instance_id": "123",
            }},
        });
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        serde_json::from_value(claims).unwrap()
    }

    fn instance(labels: Value, account: &str) -> Instance {
        serde_json::from_value(json!({
            "name": "projects/p/locations/us-central1-a/instances/nb-1",
            "labels": labels,
            "gceSetup": {"serviceAccounts": [{"email": account}]},
        }))
        .unwrap()
    }

    fn managed() -> Value {
        json!({"managed-by": "notebook-trigger", "run-id": "r0123456789abcdef"})
    }

    #[test]
    fn the_token_names_the_instance_in_the_services_project() {
        assert_eq!(
            instance_name(&claims(json!({})), "p"),
            Ok("projects/p/locations/us-central1-a/instances/nb-1".to_owned())
        );
        assert_eq!(
            instance_name(&claims(json!({})), "q"),
            Err(Refusal::OtherProject("p".into()))
        );
        assert_eq!(
            instance_name(&claims(json!({"google": null})), "p"),
            Err(Refusal::NotAnInstance)
        );
        let odd = json!({"google": {"compute_engine": {
            "instance_name": "../x", "zone": "z", "project_id": "p"}}});
        assert!(matches!(
            instance_name(&claims(odd), "p"),
            Err(Refusal::BadName(_))
        ));
    }

    #[test]
    fn only_the_runs_own_managed_instance_and_account_may_report() {
        let claims_ok = claims(json!({}));
        assert_eq!(
            speaks_for(&instance(managed(), ACCOUNT), &claims_ok, &run()),
            Ok(())
        );
        let unmanaged = instance(json!({"run-id": "r0123456789abcdef"}), ACCOUNT);
        assert!(matches!(
            speaks_for(&unmanaged, &claims_ok, &run()),
            Err(Refusal::NotManaged(_))
        ));
        let other_run = RunId::parse("rffffffffffffffff").unwrap();
        assert!(matches!(
            speaks_for(&instance(managed(), ACCOUNT), &claims_ok, &other_run),
            Err(Refusal::OtherRun { .. })
        ));
        for wrong in [
            claims(json!({"email": "other@p.iam.gserviceaccount.com"})),
            claims(json!({"email_verified": false})),
        ] {
            assert!(matches!(
                speaks_for(&instance(managed(), ACCOUNT), &wrong, &run()),
                Err(Refusal::OtherAccount { .. })
            ));
        }
        assert!(matches!(
            speaks_for(&instance(managed(), ""), &claims_ok, &run()),
            Err(Refusal::OtherAccount { .. })
        ));
    }

    #[test]
    fn an_instance_without_an_account_runs_as_the_compute_engine_default() {
        let bare = instance(managed(), "");
        let vm = |email: &str| {
            claims(json!({"email": email, "google": {"compute_engine": {
                "instance_name": "nb-1", "zone": "us-central1-a", "project_id": "p",
                "project_number": 745_104_034_005_u64,
            }}}))
        };
        let default = vm("745104034005-compute@developer.gserviceaccount.com");
        assert_eq!(speaks_for(&bare, &default, &run()), Ok(()));
        assert!(matches!(
            speaks_for(&bare, &vm(ACCOUNT), &run()),
            Err(Refusal::OtherAccount { .. })
        ));
    }
}
