//! A notebook as papermill sees it before it runs one: its kernel and language, its first
//! cell tagged `parameters` and what that cell declares, and where the injected cell goes.

use serde_json::Value;

use super::inspect::{Declaration, inspect};
use super::types::{Expected, json_kind};

/// The largest notebook the service reads into memory, to check it before a launch or to show
/// it on a run's page: a notebook is parsed whole, and one with large outputs saved in it is
/// not worth the memory of a service that launches many runs at once. A larger one is run
/// unchecked and linked rather than shown.
pub const MAX_NOTEBOOK_BYTES: usize = 16 * 1024 * 1024;

/// papermill's tag of the cell whose assignments are the notebook's parameters.
pub(super) const PARAMETERS_TAG: &str = "parameters";
/// papermill's tag of the cell it writes the run's parameters into.
pub const INJECTED_TAG: &str = "injected-parameters";

/// Why a file is not a notebook papermill can run: refused, since its run would fail.
#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    #[error("it is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("it has no cells (a notebook is a JSON object with `cells`)")]
    NoCells,
    /// papermill upgrades nbformat 3 before it writes into a notebook; Jupyter does on saving.
    #[error(
        "it is an nbformat 3 notebook: open it in Jupyter and save it, which upgrades it to nbformat 4"
    )]
    Nbformat3,
    /// papermill starts the kernel the notebook names; the runner names none.
    #[error(
        "it names no kernel (`metadata.kernelspec.name`), so papermill cannot start one: open it in Jupyter, choose a kernel and save it"
    )]
    NoKernel,
}

/// Why a run's parameters do not fit its notebook: papermill would run it anyway (it only
/// warns), and the notebook would fail, or compute with the wrong value, on the VM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error(
        "parameter `{name}` is not declared in the parameters cell of {notebook} (it declares: {declared}): declare it there, or remove it from the message's and the profile's `parameters`"
    )]
    Undeclared {
        name: String,
        notebook: String,
        declared: String,
    },
    #[error(
        "parameter `{name}` is {found}, but {notebook} declares `{declaration}` (expected: {expected}): send {expected}, or change the notebook's parameters cell"
    )]
    WrongType {
        name: String,
        found: &'static str,
        expected: String,
        declaration: String,
        notebook: String,
    },
}

/// Where papermill puts the cell it injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A cell tagged `injected-parameters` from an earlier run is replaced.
    ReplacesInjected,
    /// Right after the first cell tagged `parameters`.
    AfterParameters,
    /// At the top: the notebook has no cell tagged `parameters` (papermill warns).
    Top,
}

impl Placement {
    pub fn describe(self) -> &'static str {
        match self {
            Placement::ReplacesInjected => "replaces the cell tagged injected-parameters",
            Placement::AfterParameters => "after the cell tagged parameters",
            Placement::Top => "at the top: no cell is tagged parameters",
        }
    }
}

/// What papermill reads of a notebook before it runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notebook {
    /// `metadata.kernelspec.name`.
    pub kernel: String,
    /// `metadata.language_info.name`, else `metadata.kernelspec.language`.
    pub language: Option<String>,
    /// What the first cell tagged `parameters` declares; `None` without such a cell.
    pub declared: Option<Vec<Declaration>>,
    pub placement: Placement,
}

impl Notebook {
    /// Reads an `.ipynb` (nbformat 4, or 3 with its worksheets, which papermill upgrades).
    ///
    /// # Errors
    /// [`NotebookError`] when papermill could not run it.
    pub fn read(bytes: &[u8]) -> Result<Self, NotebookError> {
        let notebook: Value = serde_json::from_slice(bytes).map_err(NotebookError::NotJson)?;
        let cells = cells(&notebook).ok_or(NotebookError::NoCells)?;
        let metadata = &notebook["metadata"];
        let kernel = metadata["kernelspec"]["name"]
            .as_str()
            .filter(|name| !name.is_empty())
            .ok_or(NotebookError::NoKernel)?;
        let language = [
            &metadata["language_info"]["name"],
            &metadata["kernelspec"]["language"],
        ]
        .into_iter()
        .find_map(|name| name.as_str().filter(|name| !name.is_empty()));
        let tagged = |tag: &str| cells.iter().position(|cell| has_tag(cell, tag));
        let parameters = tagged(PARAMETERS_TAG);
        let placement = match (tagged(INJECTED_TAG), parameters) {
            (Some(_), _) => Placement::ReplacesInjected,
            (None, Some(_)) => Placement::AfterParameters,
            (None, None) => Placement::Top,
        };
        Ok(Self {
            kernel: kernel.to_owned(),
            language: language.map(str::to_owned),
            declared: parameters.map(|index| inspect(&source(cells[index]))),
            placement,
        })
    }

    /// Whether papermill writes this notebook's parameters in Python: the only translator
    /// whose declarations and literals are read here. papermill picks it by the kernel's
    /// name, then by the language, and needs a language to write any parameter.
    pub fn is_python(&self) -> bool {
        self.language.is_some()
            && (matches!(self.kernel.as_str(), "python" | "pysparkkernel")
                || self.language.as_deref() == Some("python"))
    }

    /// Holds `parameters` to what the notebook `uri` declares: each is declared, and of its
    /// declared type. A notebook whose parameters are not read here (no cell tagged
    /// `parameters`, not Python) takes any.
    ///
    /// # Errors
    /// [`ParameterError`] naming the first parameter that does not fit.
    pub fn check<'a>(
        &self,
        uri: &str,
        parameters: impl IntoIterator<Item = (&'a String, &'a Value)>,
    ) -> Result<(), ParameterError> {
        let Some(declared) = self.declared.as_ref().filter(|_| self.is_python()) else {
            return Ok(());
        };
        for (name, value) in parameters {
            let Some(declaration) = declared.iter().find(|d| &d.name == name) else {
                let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
                return Err(ParameterError::Undeclared {
                    name: name.clone(),
                    notebook: uri.to_owned(),
                    declared: if names.is_empty() {
                        "nothing".to_owned()
                    } else {
                        names.join(", ")
                    },
                });
            };
            let expected = Expected::of(declaration);
            if !expected.accepts(value) {
                return Err(ParameterError::WrongType {
                    name: name.clone(),
                    found: json_kind(value),
                    expected: expected.to_string(),
                    declaration: written(declaration),
                    notebook: uri.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// A declaration as its line says it: `n_rows = 5`, `rate: float = 0.5`.
fn written(declaration: &Declaration) -> String {
    match &declaration.annotation {
        Some(annotation) => format!(
            "{}: {annotation} = {}",
            declaration.name, declaration.default
        ),
        None => format!("{} = {}", declaration.name, declaration.default),
    }
}

/// The cells, of nbformat 4 or of every worksheet of nbformat 3.
fn cells(notebook: &Value) -> Option<Vec<&Value>> {
    if let Some(cells) = notebook["cells"].as_array() {
        return Some(cells.iter().collect());
    }
    let worksheets = notebook["worksheets"].as_array()?;
    Some(
        worksheets
            .iter()
            .filter_map(|sheet| sheet["cells"].as_array())
            .flatten()
            .collect(),
    )
}

pub(super) fn has_tag(cell: &Value, tag: &str) -> bool {
    cell["metadata"]["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
}

/// A cell's source: a string, or lines to join (nbformat 3 calls a code cell's `input`).
fn source(cell: &Value) -> String {
    let source = match &cell["source"] {
        Value::Null => &cell["input"],
        source => source,
    };
    match source {
        Value::String(text) => text.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    /// A Python notebook of `cells` (source, tags).
    pub(crate) fn notebook(cells: &[(&str, &[&str])]) -> Vec<u8> {
        let cells: Vec<Value> = cells
            .iter()
            .map(|(source, tags)| {
                json!({"cell_type": "code", "metadata": {"tags": tags},
                       "source": source, "outputs": [], "execution_count": null})
            })
            .collect();
        json!({"cells": cells, "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5})
        .to_string()
        .into_bytes()
    }

    fn map(value: Value) -> serde_json::Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_first_cell_tagged_parameters_declares_them() {
        let read = Notebook::read(&notebook(&[
            ("import os", &[]),
            ("n_rows = 5\nlabel = 'x'", &["parameters"]),
            ("later = 1", &["parameters"]),
        ]))
        .unwrap();
        let names: Vec<&str> = read
            .declared
            .as_ref()
            .unwrap()
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["n_rows", "label"]);
        assert_eq!(read.placement, Placement::AfterParameters);
        assert!(read.is_python());
    }

    #[test]
    fn parameters_are_held_to_the_declarations() {
        let read = Notebook::read(&notebook(&[(
            "n_rows = 5\nrate: float = 0.5\nlabel = \"x\"\nflag = False\nevent = None",
            &["parameters"],
        )]))
        .unwrap();
        let uri = "gs://b/nb.ipynb";
        let fits =
            map(json!({"n_rows": 7, "rate": 1, "label": "y", "flag": true, "event": {"a": 1}}));
        assert_eq!(read.check(uri, &fits), Ok(()));
        let error = read.check(uri, &map(json!({"colour": "red"}))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "parameter `colour` is not declared in the parameters cell of gs://b/nb.ipynb (it declares: n_rows, rate, label, flag, event): declare it there, or remove it from the message's and the profile's `parameters`"
        );
        let error = read
            .check(uri, &map(json!({"n_rows": "five"})))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "parameter `n_rows` is a string, but gs://b/nb.ipynb declares `n_rows = 5` (expected: int): send int, or change the notebook's parameters cell"
        );
        let error = read.check(uri, &map(json!({"flag": 1}))).unwrap_err();
        assert!(
            matches!(error, ParameterError::WrongType { ref name, .. } if name == "flag"),
            "{error}"
        );
    }

    #[test]
    fn without_a_parameters_cell_or_python_anything_goes() {
        let uri = "gs://b/nb.ipynb";
        let anything = map(json!({"whatever": 1}));
        let untagged = Notebook::read(&notebook(&[("x = 1", &[])])).unwrap();
        assert_eq!(untagged.declared, None);
        assert_eq!(untagged.placement, Placement::Top);
        assert_eq!(untagged.check(uri, &anything), Ok(()));
        let mut r: Value =
            serde_json::from_slice(&notebook(&[("x <- 1", &["parameters"])])).unwrap();
        r["metadata"] = json!({"kernelspec": {"name": "ir", "language": "R"}});
        let r = Notebook::read(r.to_string().as_bytes()).unwrap();
        assert!(!r.is_python());
        assert_eq!(r.check(uri, &anything), Ok(()));
    }

    #[test]
    fn an_injected_cell_of_an_earlier_run_is_replaced() {
        let read = Notebook::read(&notebook(&[
            ("a = 1", &["parameters"]),
            ("a = 2", &["injected-parameters"]),
        ]))
        .unwrap();
        assert_eq!(read.placement, Placement::ReplacesInjected);
    }

    #[test]
    fn what_papermill_cannot_run_is_not_a_notebook() {
        assert!(matches!(
            Notebook::read(b"{"),
            Err(NotebookError::NotJson(_))
        ));
        assert!(matches!(Notebook::read(b"{}"), Err(NotebookError::NoCells)));
        let no_kernel = br#"{"cells": [], "metadata": {}, "nbformat": 4}"#;
        assert!(matches!(
            Notebook::read(no_kernel),
            Err(NotebookError::NoKernel)
        ));
    }

    #[test]
    fn nbformat_3_worksheets_and_line_lists_are_read() {
        let v3 = json!({"nbformat": 3, "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
            "worksheets": [{"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                "input": ["a = 1\n", "b = 'x'\n"]}]}]});
        let read = Notebook::read(v3.to_string().as_bytes()).unwrap();
        assert_eq!(read.declared.unwrap().len(), 2);
    }
}
