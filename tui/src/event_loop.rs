//! The one loop of the console: wait for something to happen, fold it into
//! the [`App`], redraw if that changed anything.
//!
//! Three sources, and nothing else wakes the loop: key presses and resizes
//! from the terminal, events from the client task, and a 1 s tick that is
//! armed only while an uptime is on screen (plus SIGTERM/SIGHUP, to quit
//! cleanly). An idle console with no running
//! process in view, or with the daemon away, sleeps until a key is pressed
//! or the daemon speaks.

use crate::app::{Action, App};
use crate::client::{ClientEvent, ClientHandle};
use crate::clock::DaemonClock;
use crate::{input, ui};
use color_eyre::eyre::{Context, Result, eyre};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::MissedTickBehavior;

/// Most client events folded before a redraw: a burst (a group of a
/// thousand processes starting) costs one frame, not a thousand, while a
/// flood still lets keys through.
const MAX_BATCH: usize = 512;

/// Runs until the operator quits. The caller restores the terminal.
pub async fn run(terminal: &mut DefaultTerminal, mut app: App, mut client: ClientHandle) -> Result<()> {
    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut clock = DaemonClock::default();
    // A console killed with SIGTERM or losing its terminal (SIGHUP) must
    // still leave raw mode and the alternate screen: treat both as `q`.
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;

    let size = terminal.size().context("cannot read the terminal size")?;
    app.update(Action::Resize(ui::viewport(size)));

    loop {
        for command in app.take_commands() {
            client.send(command)?;
        }
        if !app.is_running() {
            return Ok(());
        }
        if app.take_dirty() {
            terminal.draw(|frame| ui::draw(frame, &app)).context("cannot draw")?;
        }
        tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(Event::Key(key))) => {
                    if let Some(action) = input::action_for(key, app.input_mode()) {
                        app.update(Action::Tick(clock.now_ms()));
                        app.update(action);
                    }
                }
                Some(Ok(Event::Resize(width, height))) => {
                    app.update(Action::Resize(ui::viewport(ratatui::layout::Size { width, height })));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            event = client.events.recv() => {
                let Some(event) = event else { return Err(eyre!("the connection task stopped unexpectedly")) };
                // Whatever this batch changes (a status line, a notice) is
                // stamped with the daemon's current time, not last second's.
                app.update(Action::Tick(clock.now_ms()));
                fold(&mut app, &mut clock, event);
                for _ in 1..MAX_BATCH {
                    match client.events.try_recv() {
                        Ok(event) => fold(&mut app, &mut clock, event),
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick(), if app.wants_tick() => app.update(Action::Tick(clock.now_ms())),
            _ = terminate.recv() => app.update(Action::Quit),
            _ = hangup.recv() => app.update(Action::Quit),
        }
    }
}

/// Hands one client event to the app, keeping the daemon clock anchored to
/// the latest snapshot.
fn fold(app: &mut App, clock: &mut DaemonClock, event: ClientEvent) {
    if let ClientEvent::Snapshot(snapshot) = &event {
        clock.anchor(snapshot.daemon.now_ms);
    }
    app.update(Action::Client(event));
}
