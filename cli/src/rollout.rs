//! `isinit tell GROUP LEVEL -H SET --batch N|P%`: a rolling switch
//! (SPEC §16). The hosts are told in waves; a wave is done when on each of
//! its hosts the group is DONE or PASSED and every respawn entry of LEVEL
//! has run `--healthy-for` without a restart. More than `--max-fail`
//! failed hosts stop the rollout after that wave — decided before the
//! next wave is told, so a failure never spreads past its wave — and
//! `--revert` tells that wave's hosts back to the level each had. Ctrl-C
//! stops after the current wave, with the same report.
//!
//! The rules (waves, the health gate, the stop rule, the report lines)
//! are pure, in `isinit_client::fleet::rollout`, and driven by
//! `rollout::drive`, which the console's fleet screen runs too; this
//! prints what the driver reports.

use super::fleet::{Options, err, missed, out};
use super::gather;
use isinit_client::fleet::rollout::drive::{self, Event};
use isinit_client::transport::Dest;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

/// What to roll out.
pub use drive::Plan;

/// Runs the rollout (or, with `dry_run`, prints its waves); returns the
/// exit status: 0 only when every wave succeeded and every host was told.
pub async fn run(plan: Plan, hosts: Vec<Dest>, dry_run: bool, options: Options) -> u8 {
    if dry_run {
        let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        let waves = isinit_client::fleet::rollout::waves(&names, plan.batch);
        let lines: String = waves
            .iter()
            .enumerate()
            .map(|(i, w)| format!("wave {}/{} {} ({})\n", i + 1, waves.len(), fold(w), w.len()))
            .collect();
        out(&lines);
        return 0;
    }
    if options.deadline <= plan.healthy_for {
        err(&format!(
            "isinit: --timeout ({} s) must be longer than --healthy-for ({} s): no host could be healthy in time\n",
            options.deadline.as_secs_f64(),
            plan.healthy_for.as_secs_f64()
        ));
        return 2;
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    // Registered now, before the first wave, not when the task first runs.
    let sigint = match signal(SignalKind::interrupt()) {
        Ok(sigint) => sigint,
        Err(e) => {
            err(&format!("isinit: cannot watch Ctrl-C: {e}\n"));
            return 1;
        }
    };
    let watcher = tokio::spawn(watch_interrupt(sigint, interrupted.clone()));
    let (events, received) = mpsc::unbounded_channel();
    let printer = tokio::spawn(print(received));
    let outcome = drive::run(&plan, &hosts, &options.window, options.deadline, &interrupted, &events).await;
    drop(events);
    let _ = printer.await;
    watcher.abort();
    if outcome.interrupted {
        err("isinit: interrupted: stopped after the current wave\n");
    }
    out(&format!("{}\n", outcome.tally.line()));
    let mut code = if outcome.success { 0 } else { 1 };
    if let Some(path) = &options.failed_to {
        let text: String = outcome.tally.failed.iter().map(|h| format!("{h}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            err(&format!("isinit: cannot write {}: {e}\n", path.display()));
            code = 1;
        }
    }
    code
}

/// Prints the driver's lines: a line per wave and per revert on stdout,
/// an unreachable host's ssh words on stderr.
async fn print(mut events: mpsc::UnboundedReceiver<Event>) {
    while let Some(event) = events.recv().await {
        match event {
            Event::WaveDone(line) | Event::Reverted(line) => out(&format!("{line}\n")),
            Event::Unreachable { host, error } => err(&gather::error_lines(&host, &missed(error).failure)),
            Event::Wave { .. } | Event::Host { .. } => {}
        }
    }
}

fn fold(hosts: &[String]) -> String {
    let mut set = isinit_client::fleet::HostSet::new();
    for h in hosts {
        set.insert(h.clone());
    }
    set.fold()
}

/// Sets `flag` on Ctrl-C (SIGINT): the rollout finishes its wave, then
/// stops. ssh runs in its own process group, so the terminal's SIGINT
/// does not cut the wave's sessions.
async fn watch_interrupt(mut sigint: Signal, flag: Arc<AtomicBool>) {
    if sigint.recv().await.is_some() {
        flag.store(true, Ordering::SeqCst);
        err("isinit: interrupted: stopping after the current wave\n");
    }
}
