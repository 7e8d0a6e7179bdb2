//! Whether papermill (with a Python kernel) is here, for the tests that run notebooks for
//! real: in CI, or with `REQUIRE_PAPERMILL=1`, a missing papermill fails the test instead of
//! skipping it.

/// `true` when papermill answers; otherwise a skip with the reason printed, or a failure where
/// it is required.
pub fn papermill() -> bool {
    let found = std::process::Command::new("papermill")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_PAPERMILL").is_ok_and(|v| v == "1");
    match (found, required) {
        (true, _) => true,
        (false, true) => panic!("papermill is required (pip install papermill ipykernel)"),
        (false, false) => {
            eprintln!("skipped: papermill is not installed (pip install papermill ipykernel)");
            false
        }
    }
}
