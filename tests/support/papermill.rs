//! Whether papermill (with a Python kernel) is here, for the tests that run notebooks for
//! real: in CI, or with `REQUIRE_PAPERMILL=1`, a missing papermill fails the test instead of
//! skipping it.

/// `true` when papermill answers; otherwise a skip with the reason printed, or a failure where
/// it is required.
pub fn papermill() -> bool {
    papermill_with(&[])
}

/// [`papermill`], and the Python `modules` its notebooks import besides.
pub fn papermill_with(modules: &[&str]) -> bool {
    let answers = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let imports = format!("import {}", modules.join(", "));
    let found = answers("papermill", &["--version"])
        && (modules.is_empty() || answers("python3", &["-c", &imports]));
    let install = ["papermill", "ipykernel"]
        .iter()
        .chain(modules)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("REQUIRE_PAPERMILL").is_ok_and(|v| v == "1");
    match (found, required) {
        (true, _) => true,
        (false, true) => panic!("{install} are required (pip install {install})"),
        (false, false) => {
            eprintln!("skipped: one of {install} is not installed (pip install {install})");
            false
        }
    }
}
