//! What a documented environment variable is: its name, what the service does when it is unset,
//! and what it means.
//!
//! The vocabulary sits below everything that declares a variable (the profile fields, the
//! service's settings), so each declares its own and one table (`config::VARIABLES`) collects
//! them for `--help`, the README and the parser's defaults.

/// One documented variable. Rendered into `serve --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub unset: WhenUnset,
    pub meaning: &'static str,
}

/// What the service does when a variable is unset or blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnset {
    /// Reads this text as if the variable were set to it.
    Value(&'static str),
    /// Leaves the setting out (the feature stays off). Shown as `-`.
    Absent,
    /// An empty list. Shown as `(none)`.
    Empty,
    /// Refuses to start or to launch; the text says when, e.g. `(required)`.
    Required(&'static str),
    /// Takes the value from elsewhere (the credentials, the platform, the API, other
    /// fields); the text says where.
    Decided(&'static str),
}

impl WhenUnset {
    /// The default column of `--help` and of the README.
    pub const fn shown(self) -> &'static str {
        match self {
            WhenUnset::Value(text) | WhenUnset::Required(text) | WhenUnset::Decided(text) => text,
            WhenUnset::Absent => "-",
            WhenUnset::Empty => "(none)",
        }
    }

    /// The text the parser reads for an unset variable: the declared value, or blank (which
    /// the parser reads as unset) when there is none.
    pub const fn read_as(self) -> &'static str {
        match self {
            WhenUnset::Value(text) => text,
            WhenUnset::Absent
            | WhenUnset::Empty
            | WhenUnset::Required(_)
            | WhenUnset::Decided(_) => "",
        }
    }
}
