//! Who owns a group: the cluster manager's resource that told it
//! (SPEC §18). A group Pacemaker placed on a node is Pacemaker's to move;
//! an operator's `isinit tell` of it would fight the cluster manager, so
//! the daemon refuses it unless forced, and every view names the owner.

use serde::{Deserialize, Serialize};

/// The resource of a cluster manager that told a group, and on which node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// The cluster manager (`pacemaker`).
    pub manager: String,
    /// Its resource instance (`OCF_RESOURCE_INSTANCE`, e.g. `web`, `web:1`).
    pub resource: String,
    /// The cluster node the resource runs on, as the manager names it.
    pub node: String,
}

impl Owner {
    /// The Pacemaker resource `resource` on `node`.
    pub fn pacemaker(resource: impl Into<String>, node: impl Into<String>) -> Owner {
        Owner { manager: "pacemaker".into(), resource: resource.into(), node: node.into() }
    }
}

/// `pacemaker:web@node3`, as status, the audit trail and the console show it.
impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}@{}", self.manager, self.resource, self.node)
    }
}

/// Who asks for a tell ([`super::Request::TellAs`]), which decides whether
/// an owned group may be told and what happens to its ownership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Asker {
    /// An operator or a script: refused for an owned group (what a plain
    /// [`super::Request::Tell`] is).
    Operator,
    /// An operator overriding the owner on purpose (`tell --force`); the
    /// ownership stays, so the owner's monitor sees the group moved.
    Forced,
    /// A cluster manager's resource agent: the group becomes `owner`'s;
    /// with `release` (the agent's stop) it is nobody's after this tell.
    Manager {
        /// The resource that tells.
        owner: Owner,
        /// Whether this tell ends the ownership.
        release: bool,
    },
}
