//! The embedded demo's defaults: with nothing configured, `cargo run` launches against the
//! in-process emulator instead of stopping at the first required variable. Where papermill is
//! installed, a launch is a whole run of a small notebook: the runner executes it, saves its
//! output and reports back to this very service; without papermill, instances run a shell
//! script instead.

use super::Settings;
use crate::profile::Fields;

/// The bucket of the demo's objects in the emulator's Cloud Storage.
pub const DEMO_BUCKET: &str = "demo-bucket";
/// The demo notebook's folder (the notebook and its `input.csv`).
pub const DEMO_NOTEBOOK_FOLDER: &str = "notebooks/seed";
pub const DEMO_NOTEBOOK: &str = "gs://demo-bucket/notebooks/seed/seed.ipynb";
pub const DEMO_OUTPUT: &str = "gs://demo-bucket/runs";
pub const DEMO_RUNNER: &str = "gs://demo-bucket/runner.sh";
pub const DEMO_SCRIPT_URI: &str = "gs://demo-bucket/script.sh";

impl Settings {
    /// The embedded demo: fills what a newcomer has not set, so `cargo run` just works.
    /// `runs` says whether demo launches run the notebook (papermill is there); `storage` is
    /// the emulator's Cloud Storage, `jwks` the keys its instances sign identity tokens with,
    /// and `service_url` this service's own address.
    pub fn with_demo_defaults(
        mut self,
        runs: bool,
        storage: &str,
        jwks: &str,
        service_url: &str,
    ) -> Self {
        let user = &self.default_profile;
        let script_chosen = user.post_startup_script.is_some() || user.notebook.is_some();
        let mut demo = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some(
                "us-docker.pkg.dev/deeplearning-platform-release/gcr.io/workbench-container".into(),
            ),
            ..Fields::default()
        };
        match (script_chosen, runs) {
            (false, true) => demo.notebook = Some(DEMO_NOTEBOOK.into()),
            (false, false) => demo.post_startup_script = Some(DEMO_SCRIPT_URI.into()),
            (true, _) => {}
        }
        if runs || user.notebook.is_some() {
            demo.output = Some(DEMO_OUTPUT.into());
        }
        self.default_profile = demo.overlay(&self.default_profile);
        self.project.get_or_insert_with(|| "demo-project".into());
        if self.default_profile.notebook.is_some() {
            let runs = &mut self.runs;
            runs.runner_script.get_or_insert_with(|| DEMO_RUNNER.into());
            runs.service_url
                .get_or_insert_with(|| service_url.trim_end_matches('/').to_owned());
            if runs.storage_emulator.is_none() {
                runs.storage_emulator = reqwest::Url::parse(storage).ok();
            }
            // The embedded emulator's instances are the only ones that report here.
            jwks.clone_into(&mut runs.token_jwks_url);
        }
        self
    }
}
