//! The `meta-data` action: the XML Pacemaker, `crm ra info` and
//! `pcs resource describe` read, generated from [`PARAMETERS`] and
//! [`ACTIONS`] so it always documents what the agent does.
//!
//! It validates against `ra-api-1.dtd` as shipped by resource-agents (which
//! is what `ocf-tester` checks). That DTD predates OCF 1.1's
//! `reload-agent` action and `reloadable` attribute, so neither is
//! advertised: a parameter change makes Pacemaker stop and start the
//! resource, which for a level change is what a tell would do anyway.

use super::params::{PARAMETERS, ParamSpec};
use std::fmt::Write;

/// One action with the default timeout Pacemaker tools copy into a new
/// resource's operations.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    /// The OCF action name.
    pub name: &'static str,
    /// Default timeout.
    pub timeout: &'static str,
    /// Default interval (recurring monitors only).
    pub interval: Option<&'static str>,
    /// The role a recurring monitor is for (promotable clones).
    pub role: Option<&'static str>,
}

const fn action(name: &'static str, timeout: &'static str) -> ActionSpec {
    ActionSpec { name, timeout, interval: None, role: None }
}

/// Every action the agent implements, with its default timeout.
///
/// start and stop get 60 s: a start waits for the level's `wait`/`test`
/// entries, and a stop may take SIGINT → 5 s → SIGTERM → 10 s → SIGKILL
/// per process (SPEC §5). The two role monitors have distinct intervals
/// because Pacemaker requires it.
pub const ACTIONS: &[ActionSpec] = &[
    action("start", "60s"),
    action("stop", "60s"),
    ActionSpec { name: "monitor", timeout: "20s", interval: Some("10s"), role: None },
    ActionSpec { name: "monitor", timeout: "20s", interval: Some("9s"), role: Some("Promoted") },
    ActionSpec { name: "monitor", timeout: "20s", interval: Some("11s"), role: Some("Unpromoted") },
    action("promote", "60s"),
    action("demote", "60s"),
    action("validate-all", "20s"),
    action("meta-data", "5s"),
];

/// The agent's name: the resource type is `ocf:isinit:group`.
pub const AGENT_NAME: &str = "group";

/// The meta-data XML document.
pub fn metadata() -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\"?>\n");
    x.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    let _ = writeln!(x, "<resource-agent name=\"{AGENT_NAME}\" version=\"{}\">", env!("CARGO_PKG_VERSION"));
    x.push_str("<version>1.1</version>\n");
    element(&mut x, "longdesc", LONGDESC);
    element(&mut x, "shortdesc", "An isinit resource group at a runlevel");
    x.push_str("<parameters>\n");
    for p in PARAMETERS {
        parameter(&mut x, p);
    }
    x.push_str("</parameters>\n<actions>\n");
    for a in ACTIONS {
        let _ = write!(x, "<action name=\"{}\" timeout=\"{}\"", a.name, a.timeout);
        if let Some(i) = a.interval {
            let _ = write!(x, " interval=\"{i}\" depth=\"0\"");
        }
        if let Some(r) = a.role {
            let _ = write!(x, " role=\"{r}\"");
        }
        x.push_str("/>\n");
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

const LONGDESC: &str = "Runs one resource group of the local isinit daemon at a runlevel, so that Pacemaker \
decides where and when the group runs and isinit runs it there: start tells the group its level and waits \
until the group has settled with every respawn entry running; stop tells the stop level and waits until \
none of the group's processes is left, and holds the group stopped on this node until the next start, \
even across a restart of the daemon; monitor reports the group's state from the daemon's snapshot \
(not running at the stop level, failed when an entry is in respawn backoff or a test failed). With no \
daemon answering, monitor reports not running only when no process of the group runs on the node, and \
stop stops the group's processes itself. The isinit daemon itself runs outside Pacemaker (e.g. as a \
systemd service) on every node.";

fn parameter(x: &mut String, p: &ParamSpec) {
    let _ = writeln!(
        x,
        "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
        p.name,
        u8::from(p.unique),
        u8::from(p.required)
    );
    element(x, "longdesc", p.longdesc);
    element(x, "shortdesc", p.shortdesc);
    match p.default {
        Some(d) => {
            let _ = writeln!(x, "<content type=\"{}\" default=\"{}\"/>", p.content.as_str(), escape(d));
        }
        None => {
            let _ = writeln!(x, "<content type=\"{}\"/>", p.content.as_str());
        }
    }
    x.push_str("</parameter>\n");
}

fn element(x: &mut String, name: &str, text: &str) {
    let _ = writeln!(x, "<{name} lang=\"en\">{}</{name}>", escape(text));
}

/// Escapes text for an XML element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
