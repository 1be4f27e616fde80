//! `isinit analyze GROUP [--json]`: the timeline of the group's last
//! switch (SPEC §19). Each stopped and started entry with its offset
//! from the tell and how long it took, and the critical chain: the stops
//! and `wait`/`test`/`notify` entries that held the rest back.

use super::Failure;
use isinit_client::blocking::Connection;
use isinit_shared::config::Mode;
use isinit_shared::protocol::timeline::{critical_chain, waited_on};
use isinit_shared::protocol::{ExitStatus, Request, Response, StepAction, SwitchStep, SwitchTimeline};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// The request for `analyze GROUP`.
pub fn request(group: String) -> Request {
    Request::Analyze { group }
}

/// `analyze` against the local daemon.
pub fn run(socket: &Path, group: String, json: bool, after: Duration) -> Result<(), Failure> {
    let (_, reply) = Connection::open_and_request(socket, &request(group), after)?;
    super::fleet::out(&shape(reply, json)?);
    Ok(())
}

/// A reply as the text `analyze` prints.
pub fn shape(reply: Response, json: bool) -> Result<String, Failure> {
    let timeline = match reply {
        Response::Timeline(t) => t,
        Response::Error(e) => return Err(Failure { reason: e.message, details: e.details }),
        other => return Err(Failure::new(format!("unexpected reply from the daemon: {other:?}"))),
    };
    if json {
        let text = serde_json::to_string_pretty(&timeline).map_err(|e| Failure::new(e.to_string()))?;
        return Ok(format!("{text}\n"));
    }
    Ok(text(&timeline))
}

/// Seconds with milliseconds, from microseconds: `0.312s`.
fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us / 1000) % 1000)
}

/// The step's name in a chain: a stop says so.
fn name(s: &SwitchStep) -> String {
    match s.action {
        StepAction::Stop => format!("stop of {}", s.tag),
        StepAction::Start => s.tag.clone(),
    }
}

/// What one step did and how long it took.
fn what(s: &SwitchStep) -> String {
    let since = |to: u64| secs(to.saturating_sub(s.began_us));
    match (s.action, s.ended_us, s.exit) {
        (StepAction::Stop, Some(end), _) => format!("stopped in {}", since(end)),
        (StepAction::Stop, None, _) => "stopping".into(),
        (StepAction::Start, Some(_), None) => "failed to start".into(),
        (StepAction::Start, Some(end), Some(ExitStatus::Code(0))) => format!("ran {}", since(end)),
        (StepAction::Start, Some(end), Some(status)) => format!("ran {} ({status})", since(end)),
        (StepAction::Start, None, _) => match (s.mode, s.ready_us, s.spawned_us) {
            (Mode::Notify, Some(ready), _) => format!("ready after {}", since(ready)),
            (Mode::Notify, None, Some(_)) => "not ready yet".into(),
            (_, _, Some(spawned)) => format!("started in {}, running", since(spawned)),
            (_, _, None) => "starting".into(),
        },
    }
}

/// The whole timeline as text: a heading, one line per step, the chain.
pub fn text(t: &SwitchTimeline) -> String {
    let told = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(t.told_at_ms));
    let outcome = match (t.result, t.finished_us) {
        (Some(result), Some(at)) => format!("{} after {}", result.as_str(), secs(at)),
        _ => "still switching".into(),
    };
    let mut out = format!("{} told {} at {told}: {outcome}\n", t.group, t.level);
    let holders = waited_on(t);
    let tag_width = t.steps.iter().map(|s| s.tag.len()).max().unwrap_or(0);
    for (s, holder) in t.steps.iter().zip(&holders) {
        let mut line = format!("+{}  {:tag_width$}  {:7}  {}", secs(s.began_us), s.tag, s.mode.as_str(), what(s));
        if let Some(h) = holder.and_then(|h| t.steps.get(h)) {
            line.push_str(&format!(" (waited on: {})", name(h)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    let chain: Vec<String> = critical_chain(t).into_iter().filter_map(|i| t.steps.get(i)).map(name).collect();
    if chain.len() > 1 {
        out.push_str(&format!("critical chain: {}\n", chain.join(" → ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::protocol::GroupState;

    fn step(tag: &str, mode: Mode, action: StepAction, began: u64, ended: Option<u64>) -> SwitchStep {
        SwitchStep {
            tag: tag.into(),
            mode,
            action,
            began_us: began,
            spawned_us: Some(began + 1000),
            ready_us: None,
            ended_us: ended,
            exit: ended.map(|_| ExitStatus::Code(0)),
        }
    }

    #[test]
    fn each_step_with_its_offset_duration_and_what_held_it() {
        let t = SwitchTimeline {
            group: "mail".into(),
            level: "run".into(),
            told_at_ms: 1_000_000_000_000,
            finished_us: Some(912_000),
            result: Some(GroupState::Done),
            steps: vec![
                step("extra", Mode::Respawn, StepAction::Stop, 0, Some(1_000)),
                step("spool", Mode::Wait, StepAction::Start, 1_000, Some(312_000)),
                step("cf", Mode::Once, StepAction::Start, 312_000, Some(623_000)),
                step("mta", Mode::Respawn, StepAction::Start, 312_000, None),
            ],
        };
        assert_eq!(
            text(&t),
            "\
mail told run at 2001-09-09T01:46:40.000Z: DONE after 0.912s
+0.000s  extra  respawn  stopped in 0.001s
+0.001s  spool  wait     ran 0.311s (waited on: stop of extra)
+0.312s  cf     once     ran 0.311s (waited on: spool)
+0.312s  mta    respawn  started in 0.001s, running (waited on: spool)
critical chain: stop of extra → spool → cf
"
        );
    }
}
