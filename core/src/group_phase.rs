//! Where a resource group is in a switch between levels (SPEC §3), as plain
//! data, and the one function that moves it on.
//!
//! The phase carries what only means something in that phase (the start's
//! cursor and the entry it waits for exist only while `Starting`), so no
//! field can be stale. The protocol's `GroupState` is a view of this,
//! computed in `snapshot.rs` and nowhere else.

/// How a start that went through every entry of the level ended
/// (SPEC §3.5). Kept apart from the phase so a settled group says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every entry was started or has run.
    Done,
    /// Every entry of the level is a `test` and all exited 0.
    Passed,
    /// A `test` of the level failed.
    Failed,
}

/// The phase of one group. Plain data so it can be compared, copied into
/// tests and handed over to a re-executed daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupPhase {
    /// Never told: nothing of the group runs (SPEC §6).
    Configured,
    /// A switch is stopping what the new level does not keep.
    Stopping,
    /// A switch is starting the level's entries in file order.
    Starting {
        /// Index, among the group's entries that have the level (file
        /// order), of the next entry to consider.
        cursor: usize,
        /// What the start waits for: a `wait` or `test` still running
        /// (behind the cursor), or the record of another group that holds
        /// the entry at the cursor and must be gone before it starts here.
        waiting_on: Option<String>,
    },
    /// The last switch went through every entry of the level.
    Settled(Outcome),
    /// Shutdown: every process is being stopped, no tell is taken.
    Halting,
}

/// What happens to a group; the input of [`next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// A tell (or a reload re-applying the level) begins a switch.
    Told,
    /// Nothing the switch had to stop is left.
    StopsFinished,
    /// The start dealt with the entry at its cursor; `waits_for` names it
    /// when the start must not go on before it is done.
    Passed {
        /// The entry to wait for, if any.
        waits_for: Option<String>,
    },
    /// The entry at the cursor, `0`, is still held by a record of another
    /// group (a reload moved it): the start waits for that record to go,
    /// then considers the same entry again.
    Blocked(String),
    /// `tag` finished (a foreground exit, a failed start) or its record
    /// was forgotten: a start waiting for it may go on.
    Finished(String),
    /// The cursor went past the level's last entry.
    Completed(Outcome),
    /// Shutdown began.
    Halt,
}

/// The transition table: the phase after `event`, or `None` when the event
/// does not apply to `phase` (a finish the start does not wait for, a tell
/// while halting). Nothing else assigns a phase.
pub fn next(phase: &GroupPhase, event: &GroupEvent) -> Option<GroupPhase> {
    use GroupEvent as E;
    use GroupPhase as P;
    match (phase, event) {
        (P::Halting, _) => None,
        (_, E::Halt) => Some(P::Halting),
        (_, E::Told) => Some(P::Stopping),
        (P::Stopping, E::StopsFinished) => Some(P::Starting { cursor: 0, waiting_on: None }),
        (P::Starting { cursor, waiting_on: None }, E::Passed { waits_for }) => {
            Some(P::Starting { cursor: cursor.saturating_add(1), waiting_on: waits_for.clone() })
        }
        (P::Starting { cursor, waiting_on: None }, E::Blocked(tag)) => {
            Some(P::Starting { cursor: *cursor, waiting_on: Some(tag.clone()) })
        }
        (P::Starting { cursor, waiting_on: Some(on) }, E::Finished(tag)) if on == tag => {
            Some(P::Starting { cursor: *cursor, waiting_on: None })
        }
        (P::Starting { waiting_on: None, .. }, E::Completed(outcome)) => Some(P::Settled(*outcome)),
        _ => None,
    }
}

impl GroupPhase {
    /// Whether the two phases show as the same state (a start moving its
    /// cursor is still the same `STARTING`): the group's `since` changes
    /// only when this is false.
    pub fn same_state(&self, other: &GroupPhase) -> bool {
        match (self, other) {
            (GroupPhase::Starting { .. }, GroupPhase::Starting { .. }) => true,
            (a, b) => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_goes_stopping_starting_settled() {
        let mut p = GroupPhase::Configured;
        for (event, expected) in [
            (GroupEvent::Told, GroupPhase::Stopping),
            (GroupEvent::StopsFinished, GroupPhase::Starting { cursor: 0, waiting_on: None }),
            (
                GroupEvent::Passed { waits_for: Some("w".into()) },
                GroupPhase::Starting { cursor: 1, waiting_on: Some("w".into()) },
            ),
            (GroupEvent::Finished("w".into()), GroupPhase::Starting { cursor: 1, waiting_on: None }),
            (GroupEvent::Blocked("m".into()), GroupPhase::Starting { cursor: 1, waiting_on: Some("m".into()) }),
            (GroupEvent::Finished("m".into()), GroupPhase::Starting { cursor: 1, waiting_on: None }),
            (GroupEvent::Completed(Outcome::Passed), GroupPhase::Settled(Outcome::Passed)),
        ] {
            p = next(&p, &event).unwrap_or_else(|| panic!("{event:?} applies to {p:?}"));
            assert_eq!(p, expected);
        }
    }

    #[test]
    fn events_that_do_not_apply_change_nothing() {
        let waiting = GroupPhase::Starting { cursor: 2, waiting_on: Some("w".into()) };
        assert_eq!(next(&waiting, &GroupEvent::Finished("other".into())), None);
        assert_eq!(next(&waiting, &GroupEvent::Passed { waits_for: None }), None, "cannot pass a waited entry");
        assert_eq!(next(&waiting, &GroupEvent::Completed(Outcome::Done)), None);
        assert_eq!(next(&GroupPhase::Configured, &GroupEvent::StopsFinished), None);
        assert_eq!(next(&GroupPhase::Halting, &GroupEvent::Told), None, "no tell while halting");
        assert_eq!(next(&waiting, &GroupEvent::Told), Some(GroupPhase::Stopping), "a newer tell takes over");
        assert_eq!(next(&waiting, &GroupEvent::Halt), Some(GroupPhase::Halting));
    }
}
