//! The `isinit` command line (SPEC §8): argument definitions and one
//! function per subcommand.

pub mod analyze;
mod args;
pub mod bridge;
mod commands;
pub mod drift;
pub mod fleet;
pub mod gather;
mod generate;
pub mod hosts;
pub mod logs_fold;
pub mod logs_group;
pub mod ocf;
pub mod ps;
mod render;
pub mod rollout;

pub use args::{Cli, ClientCmd, Cmd, DaemonArgs, FleetArgs, OcfArgs, RolloutArgs};
pub use commands::run;
pub use generate::generate_if_asked;

/// Runs a command's future on a current-thread runtime.
pub use isinit_client::block_on;
/// Why a command failed; see [`isinit_shared::Failure`]. Talking to a
/// daemon fails with an `isinit_client::ClientError`, which turns into one.
pub use isinit_shared::Failure;
