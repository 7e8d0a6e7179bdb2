//! The states an instance passes through: which verb leads from which state to which, what it
//! reads while the operation runs, and what it becomes when the operation is done.

use std::time::Duration;

use jiff::Timestamp;

use super::status::ApiError;

/// The long-running methods the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Create,
    Delete,
    Start,
    Stop,
}

impl Verb {
    /// The `OperationMetadata.verb` value, also the custom-method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::Start => "start",
            Verb::Stop => "stop",
        }
    }

    /// What the instance reads while the operation runs. Neither API has a DELETING state;
    /// `DELETED` is the nearest one both define.
    pub fn transient_state(self) -> &'static str {
        match self {
            Verb::Create => "PROVISIONING",
            Verb::Delete => "DELETED",
            Verb::Start => "STARTING",
            Verb::Stop => "STOPPING",
        }
    }

    /// What a successful operation leaves behind; `None` means the instance is gone.
    pub fn final_state(self) -> Option<&'static str> {
        match self {
            Verb::Create | Verb::Start => Some("ACTIVE"),
            Verb::Stop => Some("STOPPED"),
            Verb::Delete => None,
        }
    }

    /// The state an instance must be in for this verb to start.
    pub fn required_state(self) -> Option<&'static str> {
        match self {
            Verb::Start => Some("STOPPED"),
            Verb::Stop => Some("ACTIVE"),
            Verb::Create | Verb::Delete => None,
        }
    }
}

/// How a long-running mutation will go, decided by the caller from the fault settings before
/// the store records it.
#[derive(Clone, Debug)]
pub struct Transition {
    pub duration: Duration,
    /// `Some` makes the operation end with this error and leaves the instance as it was (a
    /// failed create leaves no instance).
    pub failure: Option<ApiError>,
}

/// What happens to an instance when its pending operation is done.
#[derive(Clone, Copy, Debug)]
pub enum Settle {
    Become(&'static str),
    Vanish,
    Stay,
}

/// The operation an instance is waiting for.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The state shown until `until`.
    pub shown: &'static str,
    pub until: Timestamp,
    pub then: Settle,
}
