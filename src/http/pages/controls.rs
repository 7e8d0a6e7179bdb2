//! The operators' forms on the history pages: "Run now" on the list, "Rerun" and "Cancel" on a
//! run's page. Plain POST forms (the pages run no script), each with the token its page was
//! served with (`forms`); shown only to operators.

use std::fmt::Write as _;

use super::escape;
use crate::run::RunId;

/// The list page's "Run now": the profiles to choose from and the form's token.
#[derive(Debug, Clone)]
pub struct RunNow {
    pub profiles: Vec<String>,
    pub token: String,
}

/// A run's page's forms: "Rerun" always, "Cancel" while the run has no outcome or its retry
/// is still to come.
#[derive(Debug, Clone)]
pub struct RunActions {
    pub rerun: String,
    pub cancel: Option<String>,
}

/// What the page shows of an operator's forms: the forms, a reason they are missing, or
/// nothing (the caller is not an operator).
#[derive(Debug, Clone, Default)]
pub enum Controls<T> {
    Shown(T),
    /// An operator's forms that cannot be served now, and why.
    Unavailable(String),
    #[default]
    None,
}

const PARAMETERS: &str = "<label>parameters <input name=\"parameters\" size=\"36\" \
     placeholder=\"{&quot;rows&quot;: 5}\" spellcheck=\"false\"></label>";

fn token(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\">",
        escape(token)
    )
}

fn unavailable(why: &str) -> String {
    format!(
        "<p class=\"warning\" id=\"controls\">The operators' buttons are not shown: {}</p>",
        escape(why)
    )
}

/// The "Run now" form.
pub fn run_now(controls: &Controls<RunNow>) -> String {
    let form = match controls {
        Controls::Shown(form) => form,
        Controls::Unavailable(why) => return unavailable(why),
        Controls::None => return String::new(),
    };
    let mut options = String::new();
    for profile in &form.profiles {
        let profile = escape(profile);
        let _ = write!(options, "<option value=\"{profile}\">{profile}</option>");
    }
    format!(
        "<form method=\"post\" action=\"/runs/start\" id=\"run-now\">\
         <label>profile <select name=\"profile\">{options}</select></label>{PARAMETERS}{}\
         <button type=\"submit\">Run now</button></form>",
        token(&form.token)
    )
}

/// The "Rerun" and "Cancel" forms of `run`.
pub fn run_actions(run: &RunId, controls: &Controls<RunActions>) -> String {
    let forms = match controls {
        Controls::Shown(forms) => forms,
        Controls::Unavailable(why) => return unavailable(why),
        Controls::None => return String::new(),
    };
    let mut out = format!(
        "<form method=\"post\" action=\"/runs/{run}/rerun\" id=\"rerun\">{PARAMETERS}{}\
         <button type=\"submit\">Rerun</button> <small>a new run of this notebook, its \
         parameters with these over them</small></form>",
        token(&forms.rerun)
    );
    if let Some(cancel) = &forms.cancel {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/runs/{run}/cancel\" id=\"cancel\">{}\
             <button type=\"submit\">Cancel</button> <small>stops the run: its instance, or \
             the retry still to come</small></form>",
            token(cancel)
        );
    }
    out
}
