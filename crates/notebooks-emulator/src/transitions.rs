//! The two sides of a lifecycle transition that are not the store's: how it will go, decided
//! from the fault settings before the store records it, and what it sets off on the instances
//! that run their script once the store has accepted it. Create, delete and the lifecycle verbs
//! go through both, and a patch through the first (nothing that runs changes), so a fault
//! setting or a booting instance behaves the same whichever method asked.

use serde_json::Value;

use super::lifecycle::{Transition, Verb};
use super::machines::Boot;
use super::store::Accepted;
use super::{ApiVersion, EmulatorState, faults};

/// How an operation on `name` will go, from the current knobs and the seed.
pub fn transition(state: &EmulatorState, verb: Verb, name: &str) -> Transition {
    let (rate, code) = state.0.knobs.operation_failure();
    let fails = faults::operation_fails(state.0.seed, verb.as_str(), name, rate);
    Transition {
        duration: state.0.knobs.provision_time(),
        failure: fails.then(|| faults::operation_error(code, name)),
    }
}

/// Tells the running instances about an accepted transition: a create or start boots the
/// instance when the operation is done, a stop or delete ends its script now, a reset does
/// both, an update touches nothing that runs. Failing
/// operations change nothing, and replays start nothing.
pub fn started(
    state: &EmulatorState,
    version: ApiVersion,
    name: &str,
    verb: Verb,
    fails: bool,
    accepted: Accepted,
) -> Value {
    if let (Some(machines), Some(done_at), false) =
        (state.0.machines.get(), accepted.done_at, fails)
    {
        match verb {
            Verb::Create => machines.boot(state, version, name, done_at, Boot::Created),
            Verb::Start => machines.boot(state, version, name, done_at, Boot::Started),
            // A reset is a reboot: the script ends now and the start runs it again.
            Verb::Reset => {
                let halted = state.clone();
                let instance = name.to_owned();
                tokio::spawn(async move {
                    if let Some(machines) = halted.0.machines.get() {
                        machines.halt(&instance).await;
                    }
                });
                machines.boot(state, version, name, done_at, Boot::Started);
            }
            Verb::Update => {}
            Verb::Stop | Verb::Delete => {
                let state = state.clone();
                let name = name.to_owned();
                tokio::spawn(async move {
                    if let Some(machines) = state.0.machines.get() {
                        machines.halt(&name).await;
                    }
                    if verb == Verb::Delete {
                        state.0.consoles.remove(&name);
                    }
                });
            }
        }
    }
    accepted.operation
}
