//! Parameters reach the notebook as the JSON values they are: papermill reads its parameters
//! file as YAML 1.1, where a float JSON writes as `1e-06` would be a string and some characters
//! JSON leaves unescaped are refused or changed.

use std::time::Duration;

use notebook_trigger::run::Outcome;
use serde_json::json;

use crate::{Bench, Job, notebook, run_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floats_and_any_characters_reach_the_notebook_unchanged() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let object = "nb/values/values.ipynb";
    let cell =
        "open('seen.txt', 'w', encoding='utf-8').write(ascii([lr, type(lr).__name__, big, text]))";
    bench
        .upload(object, notebook("lr = 0.1\nbig = 1.0\ntext = ''", &[cell]))
        .await;
    let run = run_id(0x30);
    let mut job = Job::new(&run, object);
    job.parameters = json!({"lr": 0.000001, "big": 1e16, "text": "a\u{7f}b\u{85}c\u{fffe}d: e"});
    let finished = bench.run(job, Duration::from_secs(180)).await;
    assert_eq!(
        finished.report.outcome,
        Outcome::Succeeded,
        "{}\n{}",
        finished.report.error,
        finished.report.log_tail
    );
    let seen = bench.object(&format!("out/{run}/outputs/seen.txt")).await;
    assert_eq!(
        String::from_utf8_lossy(&seen),
        r"[1e-06, 'float', 1e+16, 'a\x7fb\x85c\ufffed: e']"
    );
    bench.stop().await;
}
