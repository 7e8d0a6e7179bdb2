//! What the service and the Notebooks emulator both speak, so that neither depends on the other.
//!
//! - [`rpc`]: `google.rpc.Code`, the error codes the client reads and the emulator answers with,
//!   with their numbers, names and HTTP statuses in one table.
//! - [`api_version`]: v1 (user-managed notebooks) or v2 (Workbench instances).
//! - [`duration`]: the `30s` / `1m30s` syntax every timeout flag and variable takes.
//! - [`net`]: how both servers accept connections.
//! - [`cause`]: an error told with every cause under it, in answers and logs.

pub mod api_version;
pub mod cause;
pub mod duration;
pub mod net;
pub mod rpc;

pub use api_version::ApiVersion;
pub use rpc::Code;
