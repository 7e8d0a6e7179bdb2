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
    Reset,
    /// `instances.patch`: changes configuration, never the state.
    Update,
}

impl Verb {
    /// The `OperationMetadata.verb` value, also the custom-method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Delete => "delete",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Reset => "reset",
            Verb::Update => "update",
        }
    }

    /// What the instance reads while the operation runs, coming `from` a state. Neither API has
    /// a DELETING state; `DELETED` is the nearest one both define. A reset reboots the VM, so
    /// the instance reads STARTING until Jupyter is back.
    pub fn transient_state(self, from: &'static str) -> &'static str {
        match self {
            Verb::Create => "PROVISIONING",
            Verb::Delete => "DELETED",
            Verb::Start | Verb::Reset => "STARTING",
            Verb::Stop => "STOPPING",
            Verb::Update => from,
        }
    }

    /// What a successful operation leaves behind, coming `from` a state; `None` means the
    /// instance is gone.
    pub fn final_state(self, from: &'static str) -> Option<&'static str> {
        match self {
            Verb::Create | Verb::Start | Verb::Reset => Some("ACTIVE"),
            Verb::Stop => Some("STOPPED"),
            Verb::Delete => None,
            Verb::Update => Some(from),
        }
    }

    /// The state an instance must be in for this verb to start.
    pub fn required_state(self) -> Option<&'static str> {
        match self {
            Verb::Start => Some("STOPPED"),
            Verb::Stop | Verb::Reset => Some("ACTIVE"),
            Verb::Create | Verb::Delete | Verb::Update => None,
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
