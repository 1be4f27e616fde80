//! `analyze GROUP`: the timeline of the group's last switch, which the
//! supervisor keeps as plain data (SPEC §19). Reading, so anyone who can
//! connect may ask.

use super::{Context, ask, exiting};
use crate::runtime::Command;
use isinit_shared::protocol::{ErrorKind, ErrorReply, Response};

pub async fn handle(ctx: &Context, group: String) -> Response {
    let Some(found) = ask(ctx, |reply| Command::Timeline { group: group.clone(), reply }).await else {
        return exiting();
    };
    match found {
        Some(timeline) => Response::Timeline(Box::new(timeline)),
        None => {
            let Some(snapshot) = ask(ctx, |reply| Command::Status { reply }).await else { return exiting() };
            let (kind, message) = match snapshot.group(&group) {
                None => (ErrorKind::NoSuchGroup, format!("no such group: {group}")),
                Some(_) => (ErrorKind::Rejected, format!("no switch of {group} since the daemon started")),
            };
            Response::Error(ErrorReply::new(kind, message))
        }
    }
}
