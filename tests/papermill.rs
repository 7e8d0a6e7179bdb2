//! The service's reading of parameters cells and its injected cells, against real papermill:
//! `PythonTranslator.inspect` (what `papermill --help-notebook` prints) on cells papermill
//! reads in surprising ways, and `parameterize_notebook` (what a run writes) on values whose
//! literals are easy to get wrong. Skipped where papermill is missing, unless `CI=true` or
//! `REQUIRE_PAPERMILL=1`.

#[path = "support/papermill.rs"]
mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use notebook_trigger::papermill::{Notebook, Placement, codify, inspect, parameterize};
use serde_json::{Value, json};

/// Runs `script` with papermill's Python, `input` on its stdin; its stdout. `black`, which
/// papermill would format the injected cell with where it is installed, is kept out: the
/// service shows the cell as papermill writes it without.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args([
            "-c",
            &format!("import sys\nsys.modules['black'] = None\n{script}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "papermill's Python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Cells papermill reads in ways that are easy to get wrong.
const CELLS: &[&str] = &[
    "# Parameters\nn_rows = 5\nrate: float = 0.5  # the rate\nlabel = \"x\"  # type: str a label\n",
    "flag:'bool'=True\nempty = # nothing\nx:int=1#help\nn = 1 # type:  int   and help\nm = 1 # type: \n",
    "cities = [\n    \"Paris\",  # capital\n    \"Lyon\",\n]  # where\nd = {\n  'a': 1, # one\n  'b': [2,\n 3],\n}\n",
    "a = b = 1\nurl = \"http://x?q=1\"\nx == 1\nimport os\npath: typing.List = []\n1st = 2\ndef f(): pass\n  indented = 3\n",
    "colour = \"#fff\"  # a colour\nsemi = 1; other = 2\nprint('x')\nlater = 'y'\n",
    "ids: List[int] = [1, 2]\nopt: Optional[str] = None\ncafé = 'ü'\r\ncrlf = 1\r\nff = 2\x0cvt = 3\x0bsep = 4\x1cend = 5\n",
    "\t tabbed\t=\t7\t# tabs \t\nu = 1\u{2028}v = 2\u{85}w = 3\n",
    "",
    "# only comments\n\n   \n",
];

#[test]
fn the_parameters_papermill_reads_are_the_ones_read_here() {
    if !support::papermill() {
        return;
    }
    let script = "import json\nfrom papermill.translators import PythonTranslator\n\
        for source in json.load(sys.stdin):\n\
        \x20   found = PythonTranslator.inspect({'source': source})\n\
        \x20   print(json.dumps([[p.name, p.inferred_type_name, p.default, p.help] for p in found]))";
    let said = python(script, &json!(CELLS).to_string());
    let theirs: Vec<Value> = said
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(theirs.len(), CELLS.len());
    for (cell, theirs) in CELLS.iter().zip(theirs) {
        let ours: Vec<Value> = inspect(cell)
            .into_iter()
            .map(|d| {
                let typed = d.annotation.unwrap_or_else(|| "None".to_owned());
                json!([d.name, typed, d.default, d.help])
            })
            .collect();
        assert_eq!(Value::Array(ours), theirs, "{cell:?}");
    }
}

/// A Python notebook of `cells` (source, tags).
fn notebook(cells: &[(&str, &[&str])]) -> Value {
    let cells: Vec<Value> = cells
        .iter()
        .map(|(source, tags)| {
            json!({"cell_type": "code", "execution_count": null, "id": uuid::Uuid::new_v4().simple().to_string(),
                   "metadata": {"tags": tags}, "outputs": [], "source": source})
        })
        .collect();
    json!({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}})
}

#[test]
fn help_notebook_lists_what_is_declared_here() {
    if !support::papermill() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nb.ipynb");
    let cell =
        "n_rows = 5\nrate: float = 0.5  # the rate\nlabel = 'x'  # type: str\nids: List[int] = [1]";
    std::fs::write(&path, notebook(&[(cell, &["parameters"])]).to_string()).unwrap();
    let output = Command::new("papermill")
        .arg("--help-notebook")
        .arg(&path)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let declared = inspect(cell);
    assert_eq!(declared.len(), 4);
    for declaration in declared {
        let typed = declaration.annotation.as_deref().unwrap_or("Unknown type");
        let line = format!(
            "  {}: {typed} (default {})",
            declaration.name, declaration.default
        );
        assert!(help.contains(&line), "`{line}` in:\n{help}");
    }
}

/// Parameters whose literals are easy to get wrong.
fn tricky() -> Value {
    json!({
        "quotes": "it's \"quoted\" and \\ backslashed",
        "lines": "one\ntwo\r\n\tthree",
        "unicode": "é € 😀 \u{0} \u{1b} \u{7f} \u{85} \u{a0} \u{2028} \u{fffd}",
        "nested": {"list": [1, [2, [3, {"k": null}]]], "empty": {}, "none": [], "b": [true, false]},
        "yes": true,
        "no": false,
        "nothing": null,
        "floats": [0.1, 1.0, -0.0, 1e16, 1e15, 123456789012345678.0, 0.0001, 0.00001, 1.5e-7, -2.5e300, 12.75, 5e-324, 1.7976931348623157e308],
        "ints": [0, -1, 9007199254740993_u64, 18446744073709551615_u64, -9223372036854775808_i64],
        "event": {"upload": "gs://b/new.csv", "size": 3},
        "empty": ""
    })
}

#[test]
fn the_injected_cell_is_the_one_papermill_writes() {
    if !support::papermill() {
        return;
    }
    let parameters = tricky();
    let cells: [&[(&str, &[&str])]; 3] = [
        &[
            ("import os", &[]),
            ("quotes = ''", &["parameters"]),
            ("print(1)", &[]),
        ],
        &[("print(1)", &[])],
        &[
            ("a = 1", &["parameters"]),
            ("a = 2", &["injected-parameters"]),
            ("x", &[]),
        ],
    ];
    let script = "import json, nbformat\nfrom papermill.parameterize import parameterize_notebook\n\
        given = json.load(sys.stdin)\n\
        nb = nbformat.from_dict(given['notebook'])\n\
        nb.metadata['papermill'] = {}\n\
        nb = parameterize_notebook(nb, given['parameters'])\n\
        at = [i for i, c in enumerate(nb.cells) if 'injected-parameters' in c.metadata.get('tags', [])]\n\
        print(json.dumps({'at': at, 'source': nb.cells[at[0]].source}))";
    for cells in cells {
        let notebook = notebook(cells);
        let input = json!({"notebook": notebook, "parameters": parameters}).to_string();
        let theirs: Value = serde_json::from_str(&python(script, &input)).unwrap();
        let Value::Object(parameters) = &parameters else {
            unreachable!()
        };
        assert_eq!(theirs["source"], codify(parameters), "{cells:?}");
        let read = Notebook::read(notebook.to_string().as_bytes()).unwrap();
        let at = match read.placement {
            Placement::ReplacesInjected => 1,
            Placement::AfterParameters => 2,
            Placement::Top => 0,
        };
        assert_eq!(theirs["at"], json!([at]), "{cells:?}");
    }
}

/// The notebook an execution runs is the one papermill would run: for each place the cell can
/// go, every cell and the kept parameters equal what `parameterize_notebook` writes (the
/// injected cell's id aside, which papermill draws at random; sources are compared as text,
/// which nbformat splits into lines on writing).
#[test]
fn the_parameterized_notebook_is_the_one_papermill_writes() {
    if !support::papermill() {
        return;
    }
    let parameters = tricky();
    let Value::Object(parameters) = &parameters else {
        unreachable!()
    };
    let script = "import json, nbformat\nfrom papermill.parameterize import parameterize_notebook\n\
        given = json.load(sys.stdin)\n\
        nb = nbformat.from_dict(given['notebook'])\n\
        nb.metadata['papermill'] = {}\n\
        nb = parameterize_notebook(nb, given['parameters'])\n\
        print(nbformat.writes(nb))";
    let without_injected_id = |notebook: &mut Value| {
        for cell in notebook["cells"].as_array_mut().unwrap() {
            if cell["metadata"]["tags"] == json!(["injected-parameters"]) {
                cell.as_object_mut().unwrap().remove("id");
            }
            if let Value::Array(lines) = &cell["source"] {
                cell["source"] = json!(lines.iter().filter_map(Value::as_str).collect::<String>());
            }
        }
    };
    let cases: [&[(&str, &[&str])]; 3] = [
        &[
            ("import os", &[]),
            ("quotes = ''", &["parameters"]),
            ("print(1)", &[]),
        ],
        &[("print(1)\nprint(2)", &[])],
        &[
            ("a = 1", &["parameters"]),
            ("a = 2", &["injected-parameters"]),
            ("x", &[]),
        ],
    ];
    for cells in cases {
        let notebook = notebook(cells);
        let input = json!({"notebook": notebook, "parameters": parameters}).to_string();
        let mut theirs: Value = serde_json::from_str(&python(script, &input)).unwrap();
        let ours = parameterize(notebook.to_string().as_bytes(), parameters).unwrap();
        let mut ours: Value = serde_json::from_slice(&ours).unwrap();
        without_injected_id(&mut theirs);
        without_injected_id(&mut ours);
        assert_eq!(ours["cells"], theirs["cells"], "{cells:?}");
        assert_eq!(
            ours["metadata"]["papermill"]["parameters"],
            theirs["metadata"]["papermill"]["parameters"]
        );
    }
}
