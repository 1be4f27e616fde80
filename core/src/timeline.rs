//! The timeline of each group's last switch (SPEC §19, `isinit analyze`):
//! plain data the supervisor's transitions note as they happen, one
//! bounded record per group, replaced by the next accepted tell.
//!
//! Each hook is one call at a point where the supervisor already acts —
//! a tell accepted, a stop begun, a record forgotten, a start asked for,
//! a spawn answered, a ready report, an exit, the group's result — so the
//! timeline can never disagree with what the supervisor did.

use super::{Now, Supervisor};
use isinit_shared::config::Mode;
use isinit_shared::protocol::timeline::STEPS_KEPT;
use isinit_shared::protocol::{ExitStatus, GroupState, StepAction, SwitchStep, SwitchTimeline};
use isinit_shared::tag_index::TagIndex;
use std::time::Instant;

/// One group's last switch and the monotonic instant of its tell.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    told: Instant,
    timeline: SwitchTimeline,
    /// Where each tag's start and stop step is in `timeline.steps` (a
    /// switch has at most one of each per tag): a note finds its step
    /// without a scan of up to [`STEPS_KEPT`] steps (issue 22: a group of
    /// a thousand entries noted three times per start), and without a
    /// copy of every tag (a map of them was 100 kB for such a switch).
    starts: TagIndex,
    stops: TagIndex,
}

/// A step's tag, what [`Recorded`]'s indexes find it by.
fn step_tag(step: &SwitchStep) -> &str {
    &step.tag
}

impl Recorded {
    fn offset(&self, now: Now) -> u64 {
        u64::try_from(now.mono.saturating_duration_since(self.told).as_micros()).unwrap_or(u64::MAX)
    }

    fn index(&self, action: StepAction) -> &TagIndex {
        if action == StepAction::Stop { &self.stops } else { &self.starts }
    }

    /// The step of `tag` doing `action`.
    fn step_mut(&mut self, tag: &str, action: StepAction) -> Option<&mut SwitchStep> {
        let at = self.index(action).position(&self.timeline.steps, tag, step_tag)?;
        self.timeline.steps.get_mut(at).filter(|s| s.tag == tag && s.action == action)
    }
}

/// What happened to a process, as a timeline hears it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Noted {
    /// Its stop began.
    StopBegan(Mode),
    /// Nothing of it is left.
    Gone,
    /// Its start was asked for.
    StartBegan(Mode),
    /// Its process runs.
    Spawned,
    /// It reported `READY=1`.
    Ready,
    /// Its process exited (or could not start).
    Exited(Option<ExitStatus>),
}

impl Supervisor {
    /// The timeline of `group`'s last switch since this daemon started.
    pub fn last_switch(&self, group: &str) -> Option<SwitchTimeline> {
        self.timelines.get(group).map(|r| r.timeline.clone())
    }

    /// An accepted tell begins a new timeline for its group.
    pub(super) fn timeline_told(&mut self, now: Now, group: &str, level: &str) {
        let timeline = SwitchTimeline {
            group: group.to_string(),
            level: level.to_string(),
            told_at_ms: now.wall_ms,
            finished_us: None,
            result: None,
            steps: Vec::new(),
        };
        let recorded = Recorded { told: now.mono, timeline, starts: TagIndex::default(), stops: TagIndex::default() };
        self.timelines.insert(group.to_string(), recorded);
    }

    /// Notes what happened to `tag` of `group`. New steps are added only
    /// while the switch runs; steps already there keep being completed
    /// after it (a `once` exits long after its group is `DONE`).
    pub(super) fn timeline_note(&mut self, now: Now, group: &str, tag: &str, noted: Noted) {
        let Some(r) = self.timelines.get_mut(group) else { return };
        let at = r.offset(now);
        let open = r.timeline.finished_us.is_none();
        let new_step = |mode, action| SwitchStep {
            tag: tag.to_string(),
            mode,
            action,
            began_us: at,
            spawned_us: None,
            ready_us: None,
            ended_us: None,
            exit: None,
        };
        match noted {
            Noted::StopBegan(mode) | Noted::StartBegan(mode) => {
                let action = if matches!(noted, Noted::StopBegan(_)) { StepAction::Stop } else { StepAction::Start };
                // A respawn during the switch is no new step.
                let seen = r.index(action).position(&r.timeline.steps, tag, step_tag).is_some();
                if open && !seen && r.timeline.steps.len() < STEPS_KEPT {
                    let at = r.timeline.steps.len();
                    r.timeline.steps.push(new_step(mode, action));
                    let index = if action == StepAction::Stop { &mut r.stops } else { &mut r.starts };
                    index.insert(&r.timeline.steps, at, step_tag);
                }
            }
            Noted::Gone => {
                if let Some(s) = r.step_mut(tag, StepAction::Stop) {
                    s.ended_us.get_or_insert(at);
                }
            }
            Noted::Spawned => {
                if let Some(s) = r.step_mut(tag, StepAction::Start) {
                    s.spawned_us.get_or_insert(at);
                }
            }
            Noted::Ready => {
                if let Some(s) = r.step_mut(tag, StepAction::Start) {
                    s.ready_us.get_or_insert(at);
                }
            }
            Noted::Exited(status) => {
                if let Some(s) = r.step_mut(tag, StepAction::Start)
                    && s.ended_us.is_none()
                {
                    s.ended_us = Some(at);
                    s.exit = status;
                }
            }
        }
    }

    /// The group reached its result: the switch is over.
    pub(super) fn timeline_finished(&mut self, now: Now, group: &str, result: GroupState) {
        let Some(r) = self.timelines.get_mut(group) else { return };
        if r.timeline.finished_us.is_none() {
            r.timeline.finished_us = Some(r.offset(now));
            r.timeline.result = Some(result);
        }
    }

    /// A group gone from the supervisor takes its timeline along.
    pub(super) fn timeline_forget_gone(&mut self) {
        let groups = &self.groups;
        self.timelines.retain(|g, _| groups.contains_key(g));
    }
}
