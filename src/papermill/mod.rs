//! What papermill does to a notebook, read without Python: which parameters its parameters
//! cell declares, and the cell it injects with a run's parameters. No I/O: the launch reads
//! the notebook and hands its bytes here.
//!
//! papermill runs whatever it is given: a parameter the notebook does not declare is only a
//! warning in its log, and `"five"` for `n_rows = 5` reaches the notebook as a string. The
//! launch holds a run's parameters to the declarations before it pays for an instance, so
//! such a run is refused with 400 instead of failing on the VM minutes later.
//!
//! - `inspect`: papermill's own reading of the parameters cell, ported line for line.
//! - `types`: the type each declaration holds its parameter to, and which JSON fits it.
//! - `notebook`: the `.ipynb`: kernel, language, parameters cell, the checks.
//! - `translate`: JSON as papermill writes it into the injected cell (Python), for dry runs
//!   and for whatever writes parameterized notebooks itself.
//! - `parameterize`: the whole notebook with that cell injected where papermill puts it, for
//!   a backend that runs a notebook without papermill.

mod inspect;
mod notebook;
mod parameterize;
mod translate;
mod types;

pub use inspect::{Declaration, inspect};
pub use notebook::{
    INJECTED_TAG, MAX_NOTEBOOK_BYTES, Notebook, NotebookError, ParameterError, Placement,
};
pub use parameterize::parameterize;
pub use translate::codify;
pub use types::Expected;
