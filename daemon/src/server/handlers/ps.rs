//! `ps [GROUP|TAG]`: every live process of each entry (SPEC §19). The
//! runtime names the entries, their main processes and where their
//! members are (cgroup or process groups); `/proc` is read on a blocking
//! thread, never on the runtime's. Reading, so anyone who can connect may
//! ask.

use super::ps_tree::{self, Wanted};
use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::{ErrorKind, ErrorReply, Response};
use std::collections::HashMap;

pub async fn handle(ctx: &Context, name: Option<String>) -> Response {
    let Some(snapshot) = ask(ctx, |reply| Command::Status { reply }).await else { return exiting() };
    if let Some(name) = &name
        && snapshot.group(name).is_none()
        && !snapshot.processes.iter().any(|p| &p.tag == name)
    {
        return Response::Error(ErrorReply::new(ErrorKind::NoSuchGroup, format!("no such group or tag: {name}")));
    }
    let Some(sources) = ask(ctx, |reply| Command::LiveGroups { reply }).await else { return exiting() };
    let mut sources: HashMap<String, _> = sources.into_iter().collect();
    // In the snapshot's order: groups by name, entries in file order.
    let wanted: Vec<Wanted> = snapshot
        .processes
        .iter()
        .filter(|p| name.as_ref().is_none_or(|n| &p.group == n || &p.tag == n))
        .filter_map(|p| {
            Some(Wanted {
                group: p.group.clone(),
                tag: p.tag.clone(),
                main_pid: p.pid,
                sources: sources.remove(&p.tag)?,
            })
        })
        .collect();
    match tokio::task::spawn_blocking(move || ps_tree::read(&wanted)).await {
        Ok(entries) => Response::Ps(entries),
        Err(e) => Response::Error(ErrorReply::new(ErrorKind::Rejected, format!("reading /proc failed: {e}"))),
    }
}
