//! The embedded demo's defaults: with nothing configured, `cargo run` launches against the
//! in-process emulator instead of stopping at the first required variable.

use super::Settings;
use crate::profile::Fields;

impl Settings {
    /// The embedded demo: fills what a newcomer has not set, so `cargo run` just works.
    pub fn with_demo_defaults(mut self) -> Self {
        let demo = Fields {
            location: Some("us-central1-a".into()),
            container_image: Some(
                "us-docker.pkg.dev/deeplearning-platform-release/gcr.io/workbench-container".into(),
            ),
            post_startup_script: Some("gs://demo-bucket/script.sh".into()),
            ..Fields::default()
        };
        self.default_profile = demo.overlay(&self.default_profile);
        self.project.get_or_insert_with(|| "demo-project".into());
        self
    }
}
