//! Pre-flight: a run's notebook must exist and declare the run's parameters, each of its
//! declared type, before the run record is written or the instance created; a dry run shows
//! the cell papermill will inject. The emulator's Cloud Storage counts what it serves, so the
//! cache of declarations by generation is seen to spare the download.

use serde_json::Value;

use crate::helpers::TestApp;
use crate::run_launch::{notebook, spawn_runs, upload};

const DECLARED: &str = "gs://runs-bucket/nb/declared.ipynb";

/// A deployment whose notebook declares `rows` (int) and `label` (str), and that lets messages
/// send parameters and ask for dry runs.
async fn spawn_declared() -> TestApp {
    let app = spawn_runs(&[
        ("NOTEBOOK", DECLARED),
        ("ALLOWED_OVERRIDES", "parameters,dry_run"),
    ])
    .await;
    upload(
        &app,
        "nb/declared.ipynb",
        notebook(Some("rows = 10  # how many\nlabel: str = \"none\"")),
    );
    app
}

/// How often the live generation of `nb/declared.ipynb` was downloaded.
fn downloads(app: &TestApp) -> u64 {
    app.emulator
        .state()
        .local_storage()
        .unwrap()
        .downloads("runs-bucket", "nb/declared.ipynb")
        .expect("the notebook exists")
}

/// Asserts that `answer` is a 400 whose error names each of `words`, and that nothing was
/// created or recorded.
async fn assert_refused(app: &TestApp, (status, answer): (u16, Value), words: &[&str]) {
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    for word in words {
        assert!(error.contains(word), "`{word}` in {answer}");
    }
    assert!(app.emulator.create_requests().is_empty(), "nothing created");
    let records = notebooks_emulator::storage::StorageClient::new(
        reqwest::Url::parse(&app.emulator.storage_url()).unwrap(),
    )
    .list("runs-bucket", notebook_trigger::run::RECORDS_PREFIX)
    .await
    .unwrap();
    assert_eq!(records, Vec::<String>::new(), "no record");
}

#[tokio::test]
async fn a_missing_notebook_is_refused_naming_it_and_nothing_is_created() {
    let missing = "gs://runs-bucket/nb/missing.ipynb";
    let app = spawn_runs(&[("NOTEBOOK", missing), ("ALLOWED_OVERRIDES", "dry_run")]).await;
    let words = [
        missing,
        "field `notebook`",
        "profile `default`",
        "does not exist",
    ];
    assert_refused(&app, app.push("8001", "go").await, &words).await;
    assert_refused(&app, app.push("8002", r#"{"dry_run": true}"#).await, &words).await;
}

#[tokio::test]
async fn an_undeclared_parameter_is_refused_naming_it_and_the_notebook() {
    let app = spawn_declared().await;
    let answer = app
        .push("8003", r#"{"parameters": {"rows": 1, "colour": "red"}}"#)
        .await;
    let words = [
        "parameter `colour`",
        "not declared",
        DECLARED,
        "rows, label",
    ];
    assert_refused(&app, answer, &words).await;
}

#[tokio::test]
async fn a_parameter_of_the_wrong_type_is_refused_naming_the_type_expected() {
    let app = spawn_declared().await;
    let answer = app
        .push("8004", r#"{"parameters": {"rows": "five"}}"#)
        .await;
    let words = [
        "parameter `rows`",
        "a string",
        "`rows = 10`",
        "expected: int",
        DECLARED,
    ];
    assert_refused(&app, answer, &words).await;
    let answer = app.push("8005", r#"{"parameters": {"label": true}}"#).await;
    assert_refused(&app, answer, &["parameter `label`", "a boolean", "str"]).await;
}

#[tokio::test]
async fn declared_parameters_launch_and_the_event_needs_no_declaration() {
    let app = spawn_declared().await;
    let (status, answer) = app
        .push(
            "8006",
            r#"{"parameters": {"rows": 3, "label": "x"}, "upload": "gs://b/new.csv"}"#,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "created", "{answer}");
    assert!(
        answer.get("notebook").is_none(),
        "only a dry run shows it: {answer}"
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_injected_cell_and_what_the_notebook_declares() {
    let app = spawn_declared().await;
    let (status, dry) = app
        .push(
            "8007",
            r#"{"dry_run": true, "parameters": {"rows": 3, "label": "it's \"quoted\"\né"}}"#,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let notebook = &dry["notebook"];
    assert_eq!(notebook["notebook"], DECLARED, "{dry}");
    assert!(notebook["generation"].is_u64(), "{dry}");
    assert_eq!(
        notebook["declared"],
        serde_json::json!([
            {"name": "rows", "type": "int", "default": "10"},
            {"name": "label", "type": "str", "default": "\"none\""},
        ]),
        "{dry}"
    );
    let cell = &notebook["injected_cell"];
    assert_eq!(cell["tags"], serde_json::json!(["injected-parameters"]));
    assert_eq!(cell["placement"], "after the cell tagged parameters");
    assert_eq!(
        cell["source"], "# Parameters\nlabel = \"it's \\\"quoted\\\"\\n\\xe9\"\nrows = 3\n",
        "{dry}"
    );
    assert!(notebook.get("warnings").is_none(), "{dry}");
    assert!(app.emulator.create_requests().is_empty());
}

#[tokio::test]
async fn a_launch_reads_each_generation_of_the_notebook_once() {
    let app = spawn_declared().await;
    let dry = |id: &'static str, parameters: &'static str| {
        let app = &app;
        async move {
            app.push(
                id,
                &format!(r#"{{"dry_run": true, "parameters": {parameters}}}"#),
            )
            .await
        }
    };
    assert_eq!(dry("8008", r#"{"rows": 1}"#).await.0, 200);
    assert_eq!(downloads(&app), 1);
    let (status, answer) = dry("8009", r#"{"rows": 2}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        downloads(&app),
        1,
        "the same generation is not downloaded again"
    );
    let (status, _) = dry("8010", r#"{"colour": "red"}"#).await;
    assert_eq!(status, 400, "`colour` is not declared yet");

    upload(
        &app,
        "nb/declared.ipynb",
        notebook(Some("rows = 10\nlabel = 'x'\ncolour = 'blue'")),
    );
    let (status, answer) = dry("8011", r#"{"colour": "red"}"#).await;
    assert_eq!(status, 200, "the new generation declares it: {answer}");
    assert_eq!(downloads(&app), 1, "the new generation, downloaded once");
    let (status, answer) = app
        .push("8012", r#"{"parameters": {"colour": "green"}}"#)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        downloads(&app),
        1,
        "a launch of a known generation downloads nothing"
    );
}

#[tokio::test]
async fn a_notebook_without_a_parameters_cell_or_inside_the_container_is_not_checked() {
    let app = spawn_runs(&[("ALLOWED_OVERRIDES", "parameters,dry_run,notebook")]).await;
    let (status, dry) = app
        .push(
            "8013",
            r#"{"dry_run": true, "parameters": {"anything": [1, null]}}"#,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let notebook = &dry["notebook"];
    assert!(notebook.get("declared").is_none(), "{dry}");
    assert_eq!(
        notebook["injected_cell"]["placement"],
        "at the top: no cell is tagged parameters"
    );
    assert!(
        notebook["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no cell is tagged parameters"),
        "{dry}"
    );
    let (status, dry) = app
        .push(
            "8014",
            r#"{"dry_run": true, "overrides": {"notebook": "/home/jupyter/nb.ipynb"}}"#,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let notebook = &dry["notebook"];
    assert!(notebook.get("generation").is_none(), "{dry}");
    assert!(
        notebook["warnings"][0]
            .as_str()
            .unwrap()
            .contains("inside the container"),
        "{dry}"
    );
    assert_eq!(
        notebook["injected_cell"]["source"], "# Parameters\nlabel = \"default\"\nrows = 3\n",
        "the profile's parameters: {dry}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_notebook_is_refused() {
    let app = spawn_runs(&[]).await;
    upload(&app, "nb/seed.ipynb", b"{}".to_vec());
    let words = [
        "gs://runs-bucket/nb/seed.ipynb",
        "not a notebook papermill can run",
        "no cells",
    ];
    assert_refused(&app, app.push("8015", "go").await, &words).await;
}

/// A redelivery of a message whose run has started follows that run, even when its notebook
/// has changed since so that the check would now refuse it: the instance is its run's.
#[tokio::test]
async fn a_redelivery_follows_its_started_run_though_the_notebook_changed() {
    let app = spawn_declared().await;
    let message = r#"{"parameters": {"rows": 3}}"#;
    let (status, first) = app.push("8016", message).await;
    assert_eq!(status, 200, "{first}");
    upload(
        &app,
        "nb/declared.ipynb",
        notebook(Some("label = \"only\"")),
    );
    let (status, again) = app.push("8016", message).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["run_id"], first["run_id"], "{again}");
    assert_eq!(app.emulator.instances().len(), 1, "one instance");
    let (status, other) = app.push("8017", message).await;
    assert_eq!(status, 400, "a new message meets the check: {other}");
    assert!(
        other["error"].to_string().contains("parameter `rows`"),
        "{other}"
    );
}

#[tokio::test]
async fn a_notebook_larger_than_a_check_reads_is_run_unchecked_and_a_dry_run_says_so() {
    let app = spawn_declared().await;
    // A notebook whose saved outputs take it past 16 MiB; what it declares is never read.
    let mut large: Value = serde_json::from_slice(&notebook(Some("rows = 10"))).unwrap();
    large["cells"][1]["outputs"] = serde_json::json!([{"output_type": "stream", "name": "stdout",
        "text": "x".repeat(notebook_trigger::papermill::MAX_NOTEBOOK_BYTES)}]);
    upload(
        &app,
        "nb/declared.ipynb",
        serde_json::to_vec(&large).unwrap(),
    );
    let (status, dry) = app
        .push(
            "8017",
            r#"{"dry_run": true, "parameters": {"undeclared": 1}}"#,
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    let checked = &dry["notebook"];
    assert!(checked.get("declared").is_none(), "{dry}");
    assert!(
        checked["warnings"][0]
            .as_str()
            .unwrap()
            .contains("larger than the 16 MiB read for a check"),
        "{dry}"
    );
}
