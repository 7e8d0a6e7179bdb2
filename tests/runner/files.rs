//! What a run wrote, and what its notebook's folder holds: every file saved under its own name
//! or named in the log as not saved, nothing read or written outside the work directory, and a
//! report the service takes however many files there are.

use std::collections::BTreeMap;
use std::time::Duration;

use notebook_trigger::run::Outcome;
use serde_json::json;

use crate::{BUCKET, Bench, Job, notebook, run_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_writes_1200_files_saves_them_all_and_its_report_lists_500() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let writes = "import os\nos.makedirs('out', exist_ok=True)\n\
                  for i in range(n):\n    open(f'out/file-{i:04}.txt', 'w').write(str(i))";
    bench
        .upload("nb/many/many.ipynb", notebook("n = 1200", &[writes]))
        .await;
    let run = run_id(1);
    let finished = bench
        .run(
            Job::new(&run, "nb/many/many.ipynb"),
            Duration::from_secs(400),
        )
        .await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.error);
    let folder = format!("gs://{BUCKET}/out/{run}/");
    let listed = report
        .outputs
        .iter()
        .filter(|o| o.starts_with(&format!("{folder}outputs/")))
        .count();
    assert_eq!(listed, 500, "{:?}", report.outputs);
    for kept in ["many.ipynb", "runner.log"] {
        assert!(
            report.outputs.contains(&format!("{folder}{kept}")),
            "{kept} is listed: {:?}",
            report.outputs
        );
    }
    assert!(
        report
            .log_tail
            .contains("the report lists 500 of them, and 700 more are not listed"),
        "{}",
        report.log_tail
    );
    let saved = bench.objects(&format!("out/{run}/outputs/")).await;
    assert_eq!(saved.len(), 1200, "every file is saved, listed or not");
    let last = bench
        .object(&format!("out/{run}/outputs/out/file-1199.txt"))
        .await;
    assert_eq!(last, b"1199");
    bench.stop().await;
}

/// Files named to confuse a shell: saved under exactly their names.
const NAMED: [(&str, &str); 7] = [
    ("-dash.txt", "dash"),
    (" leading space.txt", "leading"),
    ("trailing space.txt ", "trailing"),
    ("quotes \"double\" and 'single'.txt", "quotes"),
    ("dots..in/..name", "dots"),
    ("per%cent #hash?.txt", "percent"),
    ("\u{e9}t\u{e9}.txt", "utf-8"),
];

/// Writes [`NAMED`], then what must not be saved: names that are no object name (a newline,
/// bytes that are not UTF-8), links out of the work directory, and the attack of a newline in
/// a directory's name: `x\n..` holding a file named after the runner's parameters file, which a
/// reader of names as lines takes for `../<work>.parameters.json`.
const HOSTILE: &str = r#"import json, os
work = os.getcwd()
for name, text in json.loads(named).items():
    if os.path.dirname(name):
        os.makedirs(os.path.dirname(name), exist_ok=True)
    open(name, 'w').write(text)
open(b'bad\xff.txt', 'wb').write(b'not utf-8')
open('new\nline.txt', 'w').write('newline')
os.makedirs('x\n..', exist_ok=True)
open(os.path.join('x\n..', os.path.basename(work) + '.parameters.json'), 'w').write('decoy')
os.symlink('/etc/hostname', 'link-out')
os.symlink(work + '.parameters.json', 'link-parameters')
os.symlink('/etc', 'link-dir')"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_names_are_saved_exactly_or_named_in_the_log_and_nothing_outside_is_read() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    bench
        .upload("nb/names/names.ipynb", notebook("named = '{}'", &[HOSTILE]))
        .await;
    let run = run_id(2);
    let named: BTreeMap<&str, &str> = NAMED.into_iter().collect();
    let mut job = Job::new(&run, "nb/names/names.ipynb");
    job.parameters = json!({"named": serde_json::to_string(&named).unwrap()});
    let finished = bench.run(job, Duration::from_secs(180)).await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.error);

    let prefix = format!("out/{run}/outputs/");
    let saved = bench.objects(&prefix).await;
    let expected: Vec<String> = named.keys().map(|n| format!("{prefix}{n}")).collect();
    assert_eq!(saved, expected, "exactly the files with object names");
    for (name, text) in &named {
        let object = format!("{prefix}{name}");
        assert_eq!(bench.object(&object).await, text.as_bytes(), "{object:?}");
        assert!(
            report.outputs.contains(&format!("gs://{BUCKET}/{object}")),
            "{object:?} is listed: {:?}",
            report.outputs
        );
    }
    let log = &finished.console;
    for (skipped, why) in [
        (r"outputs/$'bad\377.txt'", "not UTF-8"),
        (r"outputs/$'new\nline.txt'", "control character"),
        (r"outputs/$'x\n../run-", "control character"),
        ("outputs/link-out", "not a regular file"),
        ("outputs/link-parameters", "not a regular file"),
        ("outputs/link-dir", "not a regular file"),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("not uploaded: {skipped}")))
            .unwrap_or_else(|| panic!("no line for {skipped}:\n{log}"));
        assert!(line.contains(why), "{line}");
    }
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_named_to_leave_the_work_directory_are_refused() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    let escaped = std::env::temp_dir().join(format!("escaped-{}-{}", std::process::id(), 3));
    let _ = std::fs::remove_file(&escaped);
    let climb = "../".repeat(12);
    let escaping = format!(
        "x/{climb}{}",
        escaped.display().to_string().trim_start_matches('/')
    );
    bench
        .upload(
            "nb/escape/escape.ipynb",
            notebook("x = 1", &["open('ran.txt', 'w').write('ran')"]),
        )
        .await;
    for name in [escaping.as_str(), "a//empty-segment", "./dot-segment"] {
        bench
            .upload(&format!("nb/escape/{name}"), b"escaped".to_vec())
            .await;
    }
    let run = run_id(3);
    let finished = bench
        .run(
            Job::new(&run, "nb/escape/escape.ipynb"),
            Duration::from_secs(180),
        )
        .await;
    let written_outside = escaped.exists();
    let _ = std::fs::remove_file(&escaped);
    assert!(!written_outside, "{} was written", escaped.display());
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Succeeded, "{}", report.error);
    for name in [escaping.as_str(), "a//empty-segment", "./dot-segment"] {
        assert!(
            finished.console.contains(&format!(
                "refused gs://{BUCKET}/nb/escape/{name}: its name leads"
            )),
            "{name}:\n{}",
            finished.console
        );
    }
    let saved = bench.objects(&format!("out/{run}/outputs/")).await;
    assert_eq!(saved, [format!("out/{run}/outputs/ran.txt")]);
    bench.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_files_cannot_be_saved_is_not_a_success() {
    let Some(bench) = Bench::start().await else {
        return;
    };
    bench
        .upload(
            "nb/lost/lost.ipynb",
            notebook("x = 1", &["open('result.csv', 'w').write('a,b')"]),
        )
        .await;
    let run = run_id(4);
    let mut job = Job::new(&run, "nb/lost/lost.ipynb");
    job.output = "no-such-bucket/out";
    let finished = bench.run(job, Duration::from_secs(180)).await;
    let report = &finished.report;
    assert_eq!(report.outcome, Outcome::Failed, "{}", report.error);
    assert_eq!(report.exit_code, 0, "the notebook itself succeeded");
    assert!(
        report.error.starts_with(&format!(
            "the notebook succeeded, but uploading gs://no-such-bucket/out/{run}/lost.ipynb failed (and 1 more)"
        )),
        "{}",
        report.error
    );
    assert!(
        report.error.contains("runner.log failed"),
        "{}",
        report.error
    );
    assert!(report.outputs.is_empty(), "{:?}", report.outputs);
    bench.stop().await;
}
