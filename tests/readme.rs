//! The README as a newcomer follows it. Every shell block says how it is held to what it shows:
//! `run-by:FILE` (a test in FILE runs it: FILE names one of its commands or its section)
//! or `not-run-here` (it needs Google Cloud, a browser or a second terminal nobody automates
//! here). The "Run your own notebook" recipe runs as written, with only the port and the binary
//! substituted, and `runs` then reads the serving demo; a demo without papermill says to
//! install it.

#[path = "support/child.rs"]
mod child;
#[path = "support/papermill.rs"]
mod papermill;
#[path = "support/test_log.rs"]
mod test_log;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use child::{ChildGuard, run_bounded};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_notebook-trigger");
const README: &str = include_str!("../README.md");
const RECIPE: &str = "Run your own notebook";
const TWO_COMMANDS: &str = "Two commands";
const ONE_LAUNCH: &str = "One launch from the terminal";

/// A fenced shell block of the README: the section it sits in, the words after its language,
/// its commands (comment lines left out) and where it starts.
struct Block {
    section: String,
    marks: Vec<String>,
    commands: Vec<String>,
    line: usize,
}

fn shell_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    // The block being read, and whether it is a shell block.
    let mut open: Option<(bool, Block)> = None;
    for (n, line) in README.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                if let Some((true, block)) = open.take() {
                    blocks.push(block);
                }
            }
            (Some((_, block)), _) => {
                let command = line.trim();
                if !command.is_empty() && !command.starts_with('#') {
                    block.commands.push(command.to_owned());
                }
            }
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                let shell = matches!(words.next(), Some("sh" | "bash" | "console"));
                let block = Block {
                    section: section.clone(),
                    marks: words.map(str::to_owned).collect(),
                    commands: Vec::new(),
                    line: n + 1,
                };
                open = Some((shell, block));
            }
            (None, None) => {
                if let Some(heading) = line.strip_prefix('#') {
                    section = heading.trim_start_matches('#').trim().to_owned();
                }
            }
        }
    }
    blocks
}

/// A command without the comment that explains it.
fn without_comment(command: &str) -> &str {
    command.split("  #").next().unwrap_or(command).trim()
}

/// The shell blocks of a section of the README.
fn blocks_of(section: &str) -> Vec<Block> {
    let blocks: Vec<Block> = shell_blocks()
        .into_iter()
        .filter(|b| b.section == section)
        .collect();
    assert!(!blocks.is_empty(), "the README has a section `{section}`");
    blocks
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shell_block_is_run_by_a_test_or_marked_as_not_run_here() {
    let blocks = shell_blocks();
    assert!(blocks.len() > 10, "the README's shell blocks are found");
    let mut wrong = Vec::new();
    for block in &blocks {
        let run_by: Vec<&str> = block
            .marks
            .iter()
            .filter_map(|m| m.strip_prefix("run-by:"))
            .collect();
        let not_run = block.marks.iter().any(|m| m == "not-run-here");
        match (run_by.as_slice(), not_run) {
            ([], true) => {}
            ([], false) => wrong.push(format!(
                "README line {}: a shell block needs `run-by:tests/FILE.rs` or `not-run-here` \
                 after its language",
                block.line
            )),
            (files, false) => {
                for file in files {
                    let text = std::fs::read_to_string(repository().join(file))
                        .unwrap_or_else(|e| panic!("README line {}: {file}: {e}", block.line));
                    let named = block
                        .commands
                        .iter()
                        .any(|c| text.contains(without_comment(c)));
                    if !named && !text.contains(&block.section) {
                        wrong.push(format!(
                            "README line {}: {file} names neither a command of the block nor \
                             its section `{}`",
                            block.line, block.section
                        ));
                    }
                }
            }
            (_, true) => wrong.push(format!(
                "README line {}: a block is run by a test or not, not both",
                block.line
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `bash -c line` in the repository, with only `PATH`, `HOME` and `extra` from outside.
fn shell(line: &str, home: &Path, extra: &[(&str, String)]) -> Command {
    let mut command = Command::new("bash");
    command
        .args(["-c", line])
        .current_dir(repository())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home);
    for (name, value) in extra {
        command.env(name, value);
    }
    command
}

/// The service started by `line` (`cargo run` standing for the built binary), once it answers.
fn serve(line: &str, home: &Path, port: u16, extra: &[(&str, String)]) -> ChildGuard {
    let line = line.replacen("cargo run", &format!("exec {BIN}"), 1);
    let mut env = vec![("PORT", port.to_string())];
    env.extend(extra.iter().cloned());
    let log = home.join("service.log");
    let child = ChildGuard(
        shell(&line, home, &env)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("the service's log"))
            .stderr(Stdio::from(
                std::fs::File::create(home.join("service.err")).expect("the service's log"),
            ))
            .spawn()
            .expect("the service starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let said = std::fs::read_to_string(home.join("service.err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "the service does not listen:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Ends the service as Cloud Run would, so its embedded emulator ends what its instances run.
fn stop(mut service: ChildGuard) {
    if let Some(pid) = rustix::process::Pid::from_raw(service.0.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while matches!(service.0.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `notebook-trigger runs ARGS` with nothing configured but the demo's port.
fn runs(home: &Path, port: u16, args: &[&str]) -> child::Finished {
    let mut command = Command::new(BIN);
    command
        .args(["runs"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PORT", port.to_string());
    run_bounded(&mut command, Duration::from_secs(60))
}

#[test]
fn the_run_your_own_notebook_recipe_runs_as_written_and_runs_reads_the_serving_demo() {
    test_log::init();
    if !papermill::papermill() {
        return;
    }
    let recipe = blocks_of(RECIPE).remove(0);
    let [pick, start, publish] = recipe.commands.as_slice() else {
        panic!("the recipe is three commands: {:?}", recipe.commands);
    };
    let home = tempfile::tempdir().unwrap();
    let port = free_port();

    let picked = run_bounded(&mut shell(pick, home.path(), &[]), Duration::from_secs(30));
    assert!(picked.status.success(), "{pick}: {}", picked.stderr);
    let service = serve(start, home.path(), port, &[]);
    let publish = publish.replace("localhost:8080", &format!("127.0.0.1:{port}"));
    let published = run_bounded(
        &mut shell(&publish, home.path(), &[]),
        Duration::from_secs(60),
    );
    let answer: Value = serde_json::from_str(&published.stdout)
        .unwrap_or_else(|e| panic!("{publish}: {e}: {}{}", published.stdout, published.stderr));
    assert_eq!(answer["outcome"], "created", "{answer}");
    let run = answer["run_id"].as_str().expect("a run id").to_owned();

    let deadline = Instant::now() + Duration::from_secs(180);
    let shown = loop {
        let listed = runs(home.path(), port, &["show", &run, "--json"]);
        assert!(listed.status.success(), "{}", listed.stderr);
        assert!(
            listed.stderr.contains("the demo serving at"),
            "{}",
            listed.stderr
        );
        let shown: Value = serde_json::from_str(&listed.stdout).unwrap();
        if shown["status"] != "running" && shown["status"] != "launched" {
            break shown;
        }
        assert!(Instant::now() < deadline, "the run did not end: {shown}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(shown["status"], "succeeded", "{shown}");
    let objects = shown["objects"].to_string();
    assert!(objects.contains("outputs/output.csv"), "{shown}");
    let output = object(home.path(), &format!("runs/{run}/outputs/output.csv"));
    assert!(
        output.contains("mine: "),
        "the message's label is in the output:\n{output}"
    );
    let table = runs(home.path(), port, &[]);
    assert!(table.stdout.contains(&run), "{}", table.stdout);
    stop(service);
}

#[test]
fn runs_with_nothing_configured_and_no_demo_serving_says_to_start_it() {
    test_log::init();
    let home = tempfile::tempdir().unwrap();
    let finished = runs(home.path(), free_port(), &[]);
    assert!(!finished.status.success());
    assert!(
        finished
            .stderr
            .contains("which does not answer: start it in another terminal"),
        "{}",
        finished.stderr
    );
}

/// The README's first two blocks on a machine without papermill: `cargo run` serves the demo,
/// the seed's message launches, and `runs` says what to install to see runs.
#[test]
fn the_two_commands_serve_the_demo_and_without_papermill_runs_says_to_install_it() {
    test_log::init();
    let blocks = blocks_of(TWO_COMMANDS);
    let [commands, message] = blocks.as_slice() else {
        panic!("the two commands, then the seed's message");
    };
    let serve_line = &commands.commands[0];
    assert!(serve_line.starts_with("cargo run "), "{serve_line}");
    let home = tempfile::tempdir().unwrap();
    // What the service needs on PATH, without papermill.
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in [
        "bash", "setsid", "curl", "sleep", "cat", "date", "mktemp", "rm",
    ] {
        if let Some(found) = which(tool) {
            std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
        }
    }
    let path = [("PATH", bin.display().to_string())];
    let port = free_port();
    let service = serve(serve_line, home.path(), port, &path);

    let send = message.commands[0].replace("localhost:8080", &format!("127.0.0.1:{port}"));
    let sent = run_bounded(
        &mut shell(&send, home.path(), &path),
        Duration::from_secs(60),
    );
    let answer: Value = serde_json::from_str(&sent.stdout)
        .unwrap_or_else(|e| panic!("{send}: {e}: {}{}", sent.stdout, sent.stderr));
    assert_eq!(answer["outcome"], "created", "{answer}");
    assert_eq!(answer["state"], "ACTIVE", "{answer}");

    let finished = runs(home.path(), port, &[]);
    assert!(!finished.status.success());
    assert!(
        finished.stderr.contains("pip install papermill ipykernel"),
        "{}",
        finished.stderr
    );
    stop(service);
}

/// The README's launches from the terminal, on the embedded default.
#[test]
fn the_launches_from_the_terminal_run_as_written() {
    test_log::init();
    let home = tempfile::tempdir().unwrap();
    for block in blocks_of(ONE_LAUNCH) {
        for line in &block.commands {
            let line = line.replacen("notebook-trigger ", &format!("{BIN} "), 1);
            let done = run_bounded(
                &mut shell(&line, home.path(), &[]),
                Duration::from_secs(120),
            );
            assert!(done.status.success(), "{line}: {}", done.stderr);
            let answer: Value = serde_json::from_str(&done.stdout)
                .unwrap_or_else(|e| panic!("{line}: {e}: {}", done.stdout));
            let expected = if line.contains("--dry-run") {
                "dry-run"
            } else {
                "created"
            };
            assert_eq!(answer["outcome"], expected, "{line}: {answer}");
            if line.contains("\"label\": \"mine\"") {
                let cell = &answer["notebook"]["injected_cell"]["source"];
                assert_eq!(cell, "# Parameters\nlabel = \"mine\"\n", "{answer}");
            }
            if line.contains("n1-standard-8") {
                let body = &answer["request"]["body"];
                assert_eq!(body["gceSetup"]["machineType"], "n1-standard-8", "{answer}");
            }
        }
    }
}

/// An object of the demo's bucket, from the embedded emulator whose address the service logged.
fn object(home: &Path, name: &str) -> String {
    let log = std::fs::read_to_string(home.join("service.err")).unwrap_or_default();
    let emulator = log
        .split("embedded Notebooks emulator at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|url| url.trim_end_matches(['.', ',']))
        .unwrap_or_else(|| panic!("the emulator's address in the log:\n{log}"));
    let url = format!(
        "{emulator}/storage/v1/b/demo-bucket/o/{}?alt=media",
        name.replace('/', "%2F")
    );
    let done = run_bounded(
        Command::new("curl").args(["-fsS", &url]),
        Duration::from_secs(30),
    );
    assert!(done.status.success(), "{url}: {}", done.stderr);
    done.stdout
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
}

/// The paragraph of the README that starts with `start`.
fn paragraph(start: &str) -> &'static str {
    let from = README
        .find(start)
        .unwrap_or_else(|| panic!("the README has `{start}`"));
    let text = &README[from..];
    &text[..text.find("\n\n").unwrap_or(text.len())]
}

/// The profile fields the README lists are the code's, each with its variable.
#[test]
fn the_profile_fields_listed_are_the_codes() {
    use notebook_trigger::profile::Field;
    let expected = format!(
        "Fields, each with the variable that sets it in the default profile: {}.",
        Field::ALL
            .iter()
            .map(|f| format!("`{}` (`{}`)", f.name(), f.env_var()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let listed = paragraph("Fields, each with the variable").replace('\n', " ");
    assert!(
        listed.starts_with(&expected),
        "the README's list is\n{listed}\nand the code's\n{expected}"
    );
}

/// Every variable the pains table names is one the service reads.
#[test]
fn the_pains_table_names_only_variables_the_service_reads() {
    let known: Vec<&str> = notebook_trigger::config::VARIABLES
        .iter()
        .map(|v| v.name)
        .collect();
    let table = paragraph("| Pain in the original function |");
    let named: Vec<&str> = table
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.len() > 2 && word.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(named.len() >= 5, "{named:?}");
    let unknown: Vec<&&str> = named.iter().filter(|n| !known.contains(n)).collect();
    assert!(
        unknown.is_empty(),
        "not variables of the service: {unknown:?}"
    );
}
