//! The whole notebook papermill would run with a run's parameters, written by the service
//! itself for a backend that runs notebooks without papermill (a Workbench execution takes a
//! notebook and no parameters): the copy it runs is the notebook with papermill's injected
//! cell, so the notebook reads its parameters as it does under papermill.
//!
//! papermill's `parameterize_notebook`, step for step: the new code cell, tagged
//! `injected-parameters`, replaces the first cell so tagged (an earlier run's), or follows the
//! first cell tagged `parameters`, or goes to the top; the parameters are kept in
//! `metadata.papermill.parameters`. Without parameters papermill injects nothing, and neither
//! does this. Every other cell is left as it was.

use serde_json::{Map, Value, json};

use super::notebook::{INJECTED_TAG, NotebookError, PARAMETERS_TAG, has_tag};
use super::translate::codify;

/// The injected cell's id where the notebook's format has ids (nbformat 4.5 and later):
/// papermill draws a random one; a fixed one keeps the copy of one run's notebook the same
/// bytes each time it is written.
const INJECTED_ID: &str = "injected-parameters";

/// `notebook` (an `.ipynb`) with `parameters` injected as papermill injects them.
///
/// # Errors
/// [`NotebookError`] when the bytes are not an nbformat 4 notebook; papermill upgrades an
/// nbformat 3 one, which Jupyter does on saving it.
pub fn parameterize(
    notebook: &[u8],
    parameters: &Map<String, Value>,
) -> Result<Vec<u8>, NotebookError> {
    let mut notebook: Value = serde_json::from_slice(notebook).map_err(NotebookError::NotJson)?;
    if parameters.is_empty() {
        return Ok(serde_json::to_vec(&notebook).expect("a JSON value serializes"));
    }
    let with_ids = notebook["nbformat"].as_u64() == Some(4)
        && notebook["nbformat_minor"]
            .as_u64()
            .is_some_and(|minor| minor >= 5);
    if notebook.get("cells").is_none() && notebook.get("worksheets").is_some() {
        return Err(NotebookError::Nbformat3);
    }
    let Some(Value::Array(cells)) = notebook.get_mut("cells") else {
        return Err(NotebookError::NoCells);
    };
    let cell = injected_cell(parameters, with_ids);
    let tagged = |tag: &str| cells.iter().position(|cell| has_tag(cell, tag));
    match (tagged(INJECTED_TAG), tagged(PARAMETERS_TAG)) {
        (Some(at), _) => cells[at] = cell,
        (None, Some(at)) => cells.insert(at + 1, cell),
        (None, None) => cells.insert(0, cell),
    }
    keep_parameters(&mut notebook, parameters);
    Ok(serde_json::to_vec(&notebook).expect("a JSON value serializes"))
}

/// papermill's `new_code_cell(source=…)` with its tag, its source split into lines as
/// nbformat writes it.
fn injected_cell(parameters: &Map<String, Value>, with_id: bool) -> Value {
    let source = codify(parameters);
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut cell = json!({
        "cell_type": "code",
        "execution_count": null,
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": lines,
    });
    if with_id {
        cell["id"] = json!(INJECTED_ID);
    }
    cell
}

/// `metadata.papermill.parameters`, where papermill keeps what it injected.
fn keep_parameters(notebook: &mut Value, parameters: &Map<String, Value>) {
    let metadata = &mut notebook["metadata"];
    if !metadata.is_object() {
        *metadata = json!({});
    }
    let papermill = &mut metadata["papermill"];
    if !papermill.is_object() {
        *papermill = json!({});
    }
    papermill["parameters"] = Value::Object(parameters.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::papermill::notebook::tests::notebook;

    fn parameters() -> Map<String, Value> {
        match json!({"n_rows": 7, "label": "x"}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn parameterized(cells: &[(&str, &[&str])]) -> Value {
        serde_json::from_slice(&parameterize(&notebook(cells), &parameters()).unwrap()).unwrap()
    }

    fn sources(notebook: &Value) -> Vec<String> {
        notebook["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cell| match &cell["source"] {
                Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().unwrap().to_owned(),
            })
            .collect()
    }

    const INJECTED: &str = "# Parameters\nlabel = \"x\"\nn_rows = 7\n";

    #[test]
    fn the_cell_follows_the_parameters_cell_and_the_parameters_are_kept() {
        let got = parameterized(&[("import os", &[]), ("n_rows = 5", &["parameters"])]);
        assert_eq!(sources(&got), ["import os", "n_rows = 5", INJECTED]);
        assert_eq!(got["cells"][2]["metadata"]["tags"], json!([INJECTED_TAG]));
        assert_eq!(got["cells"][2]["id"], INJECTED_ID);
        assert_eq!(
            got["metadata"]["papermill"]["parameters"],
            json!({"n_rows": 7, "label": "x"})
        );
        assert_eq!(got["metadata"]["kernelspec"]["name"], "python3");
    }

    #[test]
    fn an_earlier_injected_cell_is_replaced_and_without_a_parameters_cell_it_goes_on_top() {
        let got = parameterized(&[("a = 1", &["parameters"]), ("a = 2", &[INJECTED_TAG])]);
        assert_eq!(sources(&got), ["a = 1", INJECTED]);
        let got = parameterized(&[("print(1)", &[])]);
        assert_eq!(sources(&got), [INJECTED, "print(1)"]);
    }

    #[test]
    fn without_parameters_nothing_is_injected_and_an_old_format_is_refused() {
        let original = notebook(&[("n_rows = 5", &["parameters"])]);
        let same: Value =
            serde_json::from_slice(&parameterize(&original, &Map::new()).unwrap()).unwrap();
        assert_eq!(same, serde_json::from_slice::<Value>(&original).unwrap());
        let v3 = json!({"worksheets": [{"cells": []}], "nbformat": 3}).to_string();
        assert!(matches!(
            parameterize(v3.as_bytes(), &parameters()),
            Err(NotebookError::Nbformat3)
        ));
        assert!(matches!(
            parameterize(b"[1]", &parameters()),
            Err(NotebookError::NoCells)
        ));
    }

    #[test]
    fn cells_of_an_older_minor_format_get_no_id() {
        let mut old: Value =
            serde_json::from_slice(&notebook(&[("x = 1", &["parameters"])])).unwrap();
        old["nbformat_minor"] = json!(4);
        let got: Value = serde_json::from_slice(
            &parameterize(old.to_string().as_bytes(), &parameters()).unwrap(),
        )
        .unwrap();
        assert!(got["cells"][1].get("id").is_none(), "{got}");
    }
}
