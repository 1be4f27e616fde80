//! The fleet console's loop: like [`crate::event_loop`], but fed by one
//! client task per host, merged into one stream tagged with the host.
//!
//! Nothing wakes it but a key, a host's news, SIGTERM/SIGHUP, the open
//! host's uptime tick, and — on the fleet screen, which shows uptimes to
//! the minute — a tick a minute. A lost host's reconnect attempts happen
//! in its own client task and wake this loop only when they say something
//! new: nothing here awaits one host, so a lost one never slows the rest.
//!
//! A rollout started from the fleet screen runs in its own task too (the
//! command line's driver, through the same window); its events come back
//! as [`RollMessage`]s.

use crate::client::{self, ClientEvent, ClientHandle};
use crate::fleet::roll::{RollMessage, Start};
use crate::fleet::{Fleet, view};
use color_eyre::eyre::{Context, Result, eyre};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use isinit_client::fleet::Window;
use isinit_client::fleet::rollout::drive;
use isinit_client::transport::{Endpoint, SshRoute};
use ratatui::DefaultTerminal;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

/// Most events folded before a redraw (see `event_loop::MAX_BATCH`).
const MAX_BATCH: usize = 512;
/// Events waiting for the UI from all hosts together.
const MERGED_BUFFER: usize = 1024;

/// Starts one client task per host (through ssh, connecting through
/// `window`: at most its fan-out of ssh starting at once, each within its
/// connect timeout) and runs until the operator quits. The caller
/// restores the terminal.
pub async fn run(terminal: &mut DefaultTerminal, mut fleet: Fleet, window: Window) -> Result<()> {
    let (merged_tx, mut merged) = mpsc::channel::<(usize, ClientEvent)>(MERGED_BUFFER);
    let handles: Vec<ClientHandle> = fleet
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut handle = client::spawn_in(Endpoint::Ssh(SshRoute::from_env(&h.dest)), window.clone());
            // The handle keeps a closed receiver; the forwarder owns the real one.
            let events = std::mem::replace(&mut handle.events, mpsc::channel(1).1);
            tokio::spawn(forward(i, events, merged_tx.clone()));
            handle
        })
        .collect();
    drop(merged_tx);

    let mut terminal_events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    minute.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let size = terminal.size().context("cannot read the terminal size")?;
    fleet.resize(size);
    let (roll_tx, mut rolls) = mpsc::unbounded_channel::<RollMessage>();

    loop {
        for (host, command) in fleet.take_commands() {
            handles[host].send(command)?;
        }
        if let Some(start) = fleet.take_start() {
            tokio::spawn(roll(start, window.clone(), roll_tx.clone()));
        }
        if !fleet.is_running() {
            return Ok(());
        }
        if fleet.take_dirty() {
            terminal.draw(|frame| view::draw(frame, &fleet)).context("cannot draw")?;
        }
        tokio::select! {
            event = terminal_events.next() => match event {
                Some(Ok(Event::Key(key))) => fleet.on_key(key),
                Some(Ok(Event::Resize(width, height))) => {
                    fleet.resize(ratatui::layout::Size { width, height });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            event = merged.recv() => {
                let Some((host, event)) = event else { return Err(eyre!("every connection task stopped")) };
                fleet.on_client_event(host, event);
                for _ in 1..MAX_BATCH {
                    match merged.try_recv() {
                        Ok((host, event)) => fleet.on_client_event(host, event),
                        Err(_) => break,
                    }
                }
            }
            Some(message) = rolls.recv() => {
                fleet.on_rollout(message);
                while let Ok(message) = rolls.try_recv() {
                    fleet.on_rollout(message);
                }
            }
            _ = tick.tick(), if fleet.wants_tick() => fleet.tick(),
            _ = minute.tick(), if fleet.wants_minute_tick() => fleet.tick(),
            _ = terminate.recv() => fleet.quit(),
            _ = hangup.recv() => fleet.quit(),
        }
    }
}

/// Tags one host's events with its index; ends with either side.
async fn forward(host: usize, mut events: mpsc::Receiver<ClientEvent>, merged: mpsc::Sender<(usize, ClientEvent)>) {
    while let Some(event) = events.recv().await {
        if merged.send((host, event)).await.is_err() {
            return;
        }
    }
}

/// Runs one rollout with the command line's driver, passing its events on;
/// ends with [`RollMessage::Done`]. Quitting the console drops the
/// runtime, and with it this task: hosts not told yet stay untold.
async fn roll(start: Start, window: Window, to_ui: mpsc::UnboundedSender<RollMessage>) {
    let (events, mut received) = mpsc::unbounded_channel();
    let forward = {
        let to_ui = to_ui.clone();
        tokio::spawn(async move {
            while let Some(event) = received.recv().await {
                if to_ui.send(RollMessage::Event(event)).is_err() {
                    return;
                }
            }
        })
    };
    let outcome = drive::run(&start.plan, &start.hosts, &window, start.deadline, &start.stop, &events).await;
    drop(events);
    let _ = forward.await;
    let _ = to_ui.send(RollMessage::Done(outcome));
}
