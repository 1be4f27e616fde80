//! How the audit trail names a tell of an owned group (SPEC §18): who
//! told it, or who was overridden.

use isinit_shared::protocol::{Asker, Owner};

/// `tell web run by pacemaker:web@node3`, `… releasing pacemaker:web@node3`
/// (the manager's stop), `… forced over pacemaker:web@node3`; a plain
/// `tell web run` otherwise. `before` is the owner before the tell.
pub fn audit_text(group: &str, level: &str, asker: &Asker, before: Option<&Owner>) -> String {
    let tell = format!("tell {group} {level}");
    match (asker, before) {
        (Asker::Manager { owner, release: false }, _) => format!("{tell} by {owner}"),
        (Asker::Manager { owner, release: true }, _) => format!("{tell} by {owner}, releasing the group"),
        (Asker::Forced, Some(owner)) => format!("{tell} forced over {owner}"),
        (Asker::Forced, None) => format!("{tell} (--force)"),
        (Asker::Operator, _) => tell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_names_the_owner() {
        let owner = Owner::pacemaker("web", "node3");
        let by = Asker::Manager { owner: owner.clone(), release: false };
        assert_eq!(audit_text("web", "run", &by, None), "tell web run by pacemaker:web@node3");
        let stop = Asker::Manager { owner: owner.clone(), release: true };
        assert_eq!(
            audit_text("web", "0", &stop, Some(&owner)),
            "tell web 0 by pacemaker:web@node3, releasing the group"
        );
        assert_eq!(audit_text("web", "0", &Asker::Forced, Some(&owner)), "tell web 0 forced over pacemaker:web@node3");
        assert_eq!(audit_text("web", "0", &Asker::Operator, None), "tell web 0");
    }
}
