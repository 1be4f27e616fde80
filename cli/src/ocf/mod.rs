//! `isinit ocf ACTION`: the OCF resource agent `ocf:isinit:group`, so that
//! Pacemaker decides where and when a resource group runs and isinit runs
//! it there.
//!
//! # Usage
//!
//! Pacemaker runs `/usr/lib/ocf/resource.d/isinit/group ACTION`, a thin
//! shell wrapper (packaging/ocf/group) that execs
//! `${OCF_RESKEY_binary:-isinit} ocf ACTION`. The parameters arrive as
//! `OCF_RESKEY_<name>` environment variables (see [`params::PARAMETERS`]:
//! `group` required; `level` default `run`; `stop_level` default `0`;
//! `promoted_level`, `socket`, `config`, `binary` default `isinit`), the
//! operation's timeout as `OCF_RESKEY_CRM_meta_timeout` in milliseconds.
//!
//! ```text
//! crm configure primitive web ocf:isinit:group params group=web level=run \
//!     op monitor interval=10s timeout=20s
//! pcs resource create web ocf:isinit:group group=web level=run op monitor interval=10s
//! ```
//!
//! | action | does | exit |
//! | --- | --- | --- |
//! | `start` | tell `level`, wait until settled with every respawn entry running | 0; 1 FAILED/backoff/timeout; 6 no such group |
//! | `stop` | hold the group stopped (`SOCKET.held/GROUP`) until the next `start`, tell `stop_level`, wait until no process of the group is left; no daemon: stop the group's processes itself | 0 (also: invalid parameters); 1 timeout or processes left; 6 invalid isinittab |
//! | `monitor` | read one snapshot; no daemon: look at the node's processes and cgroups | 0 up; 7 stopped (nothing of the group runs); 1 failed, at a foreign level, or running without a daemon; 190 flapping; 8/9/191 promoted |
//! | `promote`/`demote` | tell `promoted_level`/`level`, wait as start | 0; 3 without `promoted_level` |
//! | `validate-all` | binary, isinittab, group in it | 0; 5 missing here; 6 invalid |
//! | `meta-data` | the XML from the parameter table | 0 |
//!
//! `start`, `promote` and `demote` tell on behalf of the resource
//! (`OCF_RESOURCE_INSTANCE` on `OCF_RESKEY_CRM_meta_on_node`), which makes
//! the group owned (SPEC §18): `isinit status` shows
//! `owner=pacemaker:web@node3` and an operator's `isinit tell` of it is
//! refused without `--force`; `stop` ends the ownership.
//!
//! Every wait ends before the operation timeout with an `ocf-exit-reason:`
//! line on stderr, which `crm_mon` shows beside the failed action.
//!
//! No answer from the daemon is never taken for "stopped" (SPEC §15): the
//! daemon's lock says whether one lives (then it is waited for) and, if
//! none does, the agent looks at what runs (`scan`, `unattended`).
//!
//! The isinit daemon itself is not a Pacemaker resource here: it runs on
//! every node (systemd, inittab) and keeps running whatever Pacemaker
//! decides; Pacemaker only moves groups between levels.

mod actions;
mod alone;
mod exit;
mod metadata;
mod owner;
mod params;
mod promotion;
mod scan;
mod session;
mod unattended;
mod validate;
mod view;

#[cfg(test)]
mod tests;

pub use exit::{OcfCode, Outcome};
pub use metadata::metadata;
pub use params::{PARAMETERS, ParamSpec, Params};

use isinit_shared::settings;
use session::Session;
use std::path::{Path, PathBuf};
use view::Role;

/// The global `--socket`/`--config` flags, used when the resource does not
/// set `socket`/`config`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags<'a> {
    /// `--socket`.
    pub socket: Option<&'a Path>,
    /// `--config`.
    pub config: Option<&'a Path>,
}

/// Runs `action` with the process environment and returns the OCF exit
/// code (after printing the reason on stderr).
pub async fn run(action: &str, flags: Flags<'_>) -> u8 {
    let env = |name: &str| std::env::var(name).ok();
    dispatch(action, &env, flags).await.finish()
}

const USAGE: &str = "usage: isinit ocf {start|stop|monitor|promote|demote|validate-all|meta-data|usage}
The OCF resource agent ocf:isinit:group; parameters come from OCF_RESKEY_* (see meta-data).";

/// Runs one action with the environment read through `env`.
pub async fn dispatch(action: &str, env: &dyn Fn(&str) -> Option<String>, flags: Flags<'_>) -> Outcome {
    match action {
        "meta-data" => {
            print!("{}", metadata());
            return Outcome::success();
        }
        "usage" | "help" => {
            println!("{USAGE}");
            return Outcome::success();
        }
        "start" | "stop" | "monitor" | "status" | "promote" | "demote" | "validate-all" => {}
        other => return Outcome::with(OcfCode::Unimplemented, format!("action {other:?} is not implemented")),
    }
    let p = match Params::from_env(env) {
        Ok(p) => p,
        // A resource this wrong never started anything, and a failed stop
        // would leave it blocked (or its node fenced): nothing to stop.
        Err(e) if action == "stop" => return Outcome::with(OcfCode::Success, format!("{e}: nothing to stop")),
        Err(e) => return Outcome::with(OcfCode::ErrConfigured, e.to_string()),
    };
    let config = p.config.clone().unwrap_or_else(|| settings::config_path(flags.config));
    let socket: PathBuf = p.socket.clone().unwrap_or_else(|| settings::client_socket(flags.socket, Some(&config)));
    let session = Session::new(socket, params::OpMeta::from_env(env).budget());
    let owner = owner::of(env, &p.group);
    match action {
        "validate-all" => validated(&p, &config, env).unwrap_or_else(|o| o),
        "start" => match validated(&p, &config, env) {
            Ok(_) => {
                let started = actions::arrive(&p, &session, Role::Unpromoted, &owner).await;
                scored(started, promotable(&p, env)).await
            }
            Err(o) => o,
        },
        "promote" => actions::arrive(&p, &session, Role::Promoted, &owner).await,
        "demote" if p.promoted_level.is_none() => Outcome::with(OcfCode::Unimplemented, "promoted_level is not set"),
        "demote" => actions::arrive(&p, &session, Role::Unpromoted, &owner).await,
        "stop" => {
            if promotable(&p, env)
                && let Err(e) = promotion::set(None).await
            {
                eprintln!("isinit ocf: warning: {e}");
            }
            actions::stop(&p, &session, &config, &owner).await
        }
        _ => actions::monitor(&p, &session, &config).await,
    }
}

/// Whether the resource is an instance of a promotable clone that names
/// its promoted level.
fn promotable(p: &Params, env: &dyn Fn(&str) -> Option<String>) -> bool {
    p.promoted_level.is_some() && promotion::promotable(env)
}

/// A successful start of a promotable instance gives its node a promotion
/// score (without one Pacemaker promotes nothing); failing that fails the
/// start.
async fn scored(started: Outcome, promotable: bool) -> Outcome {
    if !promotable || started.code != OcfCode::Success {
        return started;
    }
    match promotion::set(Some(promotion::SCORE)).await {
        Ok(()) => started,
        Err(e) => Outcome::with(OcfCode::ErrGeneric, e),
    }
}

/// `validate-all`, printing its warnings; the `Ok` outcome is its answer.
fn validated(p: &Params, config: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Outcome, Outcome> {
    let warnings = validate::validate(p, config, env("PATH").as_deref())?;
    for w in &warnings {
        eprintln!("isinit ocf: warning: {w}");
    }
    Ok(Outcome::success())
}
