//! Variables that are set, read by nobody, and spelt almost like one the service reads:
//! `MACHNE_TYPE=n1-standard-8` starts a service whose machine type is still the default, and
//! nothing else would say so.
//!
//! Only plausible names are looked at (upper case, digits and underscores, as every variable
//! here is spelt), and the platform's and the shell's own variables are left alone: `HOME` is
//! two letters from `HOST` but is nobody's typo.

use super::VARIABLES;
use crate::edits;

/// The most edits (a letter added, dropped, changed, or two swapped) that still make a typo.
const MAX_EDITS: usize = 2;

/// Set by Cloud Run, the system or the shell, so never a typo of ours: `HOME` and `OS` are two
/// edits from `HOST`, and the others would be as soon as a variable near them is added.
const NOT_OURS: &[&str] = &[
    "PATH",
    "HOME",
    "HOSTNAME",
    "OS",
    "USER",
    "SHELL",
    "TERM",
    "LANG",
    "PWD",
    "TZ",
    "K_SERVICE",
    "K_REVISION",
    "K_CONFIGURATION",
];

/// A variable that looks like a typo of one the service reads: a warning, since it may be
/// meant for something else in the same environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misspelt {
    pub name: String,
    pub meant: &'static str,
}

impl std::fmt::Display for Misspelt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is set, but no setting has that name: did you mean {}?",
            self.name, self.meant
        )
    }
}

/// The names among `names` (those of the environment) that look like a typo of a variable
/// in [`VARIABLES`], each with the nearest one (the first declared, when two are as near).
pub fn misspelt(names: impl IntoIterator<Item = String>) -> Vec<Misspelt> {
    names
        .into_iter()
        .filter(|name| plausible(name) && !NOT_OURS.contains(&name.as_str()))
        .filter(|name| !VARIABLES.iter().any(|v| v.name == name))
        .filter_map(|name| {
            let (_, meant) = VARIABLES
                .iter()
                .filter_map(|v| {
                    edits::within(name.as_bytes(), v.name.as_bytes(), MAX_EDITS)
                        .map(|edits| (edits, v.name))
                })
                .min_by_key(|(edits, _)| *edits)?;
            Some(Misspelt { name, meant })
        })
        .collect()
}

/// Spelt as a variable of ours is: an upper-case letter, then upper case, digits, underscores.
fn plausible(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warned(names: &[&str]) -> Vec<(String, &'static str)> {
        misspelt(names.iter().map(|n| (*n).to_owned()))
            .into_iter()
            .map(|m| (m.name, m.meant))
            .collect()
    }

    #[test]
    fn a_near_miss_of_a_variable_names_the_variable() {
        assert_eq!(
            warned(&[
                "MACHNE_TYPE",
                "NOTEBOOK_EMULATOR_HOST",
                "POLL_TIMOUT",
                "HSOT"
            ]),
            [
                ("MACHNE_TYPE".to_owned(), "MACHINE_TYPE"),
                (
                    "NOTEBOOK_EMULATOR_HOST".to_owned(),
                    "NOTEBOOKS_EMULATOR_HOST"
                ),
                ("POLL_TIMOUT".to_owned(), "POLL_TIMEOUT"),
                ("HSOT".to_owned(), "HOST"),
            ]
        );
        assert_eq!(
            misspelt(["MACHNE_TYPE".to_owned()])[0].to_string(),
            "MACHNE_TYPE is set, but no setting has that name: did you mean MACHINE_TYPE?"
        );
    }

    #[test]
    fn our_own_names_far_names_odd_names_and_the_platforms_are_left_alone() {
        assert_eq!(
            warned(&[
                "MACHINE_TYPE",
                "PORT",
                "HOST",
                "K_SERVICE",
                "HOME",
                "OS",
                "PATH",
                "GOOGLE_APPLICATION_CREDENTIALS",
                "MACHINE_KIND",
                "machne_type",
                "Machne_Type",
                "MACHNE-TYPE",
            ]),
            []
        );
    }
}
