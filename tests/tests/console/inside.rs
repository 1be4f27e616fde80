//! Issue 20 in the console, against real processes: `x` the x-ray of an
//! entry (its tree, the stray marked), `:analyze` the timeline of the
//! last switch from the palette, `L` the group log.

use crate::tmux::Console;
use isinit_e2e::TestDaemon;
use isinit_shared::protocol::GroupState;

/// A main process with a child and a double-forked (stray) orphan; a
/// `wait` entry that prints, before it.
const TAB: &str = "g:prep:1:wait:echo prepared\n\
    g:web:1:respawn:sleep 1001 & (sleep 1002 &); exec sleep 1000\n";

#[test]
fn x_shows_the_tree_of_the_selected_process_and_the_palette_reaches_the_timeline() {
    let d = TestDaemon::start(TAB);
    d.tell("g", "1");
    d.wait_group("g", "1", GroupState::Done);
    let main = d.wait_running("web");
    let c = Console::start(&d);
    c.keys(&["Tab", "Down"]);
    c.wait("web selected in the processes panel", |s| s.has("┌ web respawn"));

    c.keys(&["x"]);
    c.wait("the x-ray of web: its main process, the child under it, the stray", |s| {
        s.has("x-ray: web")
            && s.text.lines().any(|l| l.contains(&format!(" {main} ")) && l.contains(" sleep 1000"))
            && s.has("└ sleep 1001")
            && s.has("stray sleep 1002")
    });
    c.keys(&["Escape"]);
    c.wait("the x-ray closed", |s| !s.has("x-ray: web"));

    c.keys(&[":"]);
    c.type_text("analyze g");
    c.keys(&["Enter"]);
    c.wait("the timeline of g's switch, web after prep", |s| {
        s.has("last switch of g") && s.has("g told 1: DONE") && s.has("after prep")
    });
    // Apart: Escape and a key sent at once read as Alt-key.
    c.keys(&["Escape"]);
    c.wait("the timeline closed", |s| !s.has("last switch of g"));
    c.keys(&["L"]);
    c.wait("the group log with prep's line", |s| s.has("log of g") && s.has("prep | prepared"));
    c.keys(&["Escape"]);
    d.tell("g", "0");
    d.wait_group("g", "0", GroupState::Done);
}
