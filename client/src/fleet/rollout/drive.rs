//! The driver of a rolling switch: the rules of [`super`] over ssh. Both
//! `isinit tell … --batch` and the console's fleet screen run this one
//! function; each reads its [`Event`]s (the command line prints the wave
//! lines, the console draws them live), so a wave means the same thing in
//! both.

use super::{Batch, Gate, GateState, Tally};
use crate::fleet::{HostError, HostSet, Window};
use crate::transport::{Dest, Endpoint, SshRoute};
use crate::{Client, sleep_until};
use isinit_shared::protocol::{Request, Response, Snapshot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What to roll out.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The group to switch.
    pub group: String,
    /// The level to switch it to.
    pub level: String,
    /// Wave size.
    pub batch: Batch,
    /// How long a host must stay settled to be healthy.
    pub healthy_for: Duration,
    /// Failed hosts tolerated, over all waves.
    pub max_fail: usize,
    /// Tell the failing wave back to its levels.
    pub revert: bool,
}

/// Where one host of the current wave stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostStep {
    /// Waiting for a slot of the window, or for ssh.
    Connecting,
    /// Told; not there yet, and why (`STARTING`, `at level 1`).
    Waiting(String),
    /// At the level with every respawn entry up: waiting out healthy-for.
    Settling,
    /// Healthy: counted as rolled.
    Healthy,
    /// Failed, and why (`FAILED`, `unreachable`, `cf backoff`).
    Failed(String),
}

/// What the rollout reports as it goes, in order.
#[derive(Debug)]
pub enum Event {
    /// Wave `n` of `of` starts on `hosts`.
    Wave {
        /// The wave's number, from 1.
        n: usize,
        /// How many waves there are.
        of: usize,
        /// Its hosts, in order.
        hosts: Vec<String>,
    },
    /// One host of the current wave moved on.
    Host {
        /// The host, as given.
        host: String,
        /// Where it stands now.
        step: HostStep,
    },
    /// A host could not be reached; ssh's own words, for a log.
    Unreachable {
        /// The host, as given.
        host: String,
        /// What ssh or the hello said.
        error: HostError,
    },
    /// The wave's line (`wave 3/6 web[05-06]: ok`).
    WaveDone(String),
    /// The revert's line (`revert web[05-06]: ok`).
    Reverted(String),
}

/// How the rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What became of every host (its [`Tally::line`] is the final line).
    pub tally: Tally,
    /// Every wave succeeded and every host was told.
    pub success: bool,
    /// `stop` was raised and some hosts were never told because of it.
    pub interrupted: bool,
}

/// The level a never-told group goes back to: 0 stops it, as it was.
const NEVER_TOLD: &str = "0";

/// What became of one host of a wave.
struct Rolled {
    /// The level the group had before it was told (only once told).
    told_from: Option<String>,
    /// Healthy, or why not.
    result: Result<(), String>,
}

/// Runs the rollout of `plan` over `hosts` through `window`, each reached
/// host given `deadline` to answer and to become healthy. Raising `stop`
/// ends it after the current wave. Every step goes to `events` (a closed
/// receiver is no error).
pub async fn run(
    plan: &Plan,
    hosts: &[Dest],
    window: &Window,
    deadline: Duration,
    stop: &AtomicBool,
    events: &mpsc::UnboundedSender<Event>,
) -> Outcome {
    let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let waves = super::waves(&names, plan.batch);
    let dest_waves: Vec<&[Dest]> = hosts.chunks(plan.batch.size(hosts.len())).collect();
    let mut tally = Tally::default();
    let (mut failed_total, mut stopped, mut success, mut interrupted) = (0, false, true, false);
    for (i, wave) in waves.iter().enumerate() {
        if stopped || stop.load(Ordering::SeqCst) {
            interrupted |= !stopped;
            tally.not_told.extend(wave.iter().cloned());
            success = false;
            continue;
        }
        let _ = events.send(Event::Wave { n: i + 1, of: waves.len(), hosts: wave.clone() });
        let rolled = roll_wave(plan, dest_waves[i], window, deadline, events).await;
        let failed: Vec<(String, String)> = wave
            .iter()
            .zip(&rolled)
            .filter_map(|(h, r)| r.result.as_ref().err().map(|why| (h.clone(), why.clone())))
            .collect();
        let _ = events.send(Event::WaveDone(super::wave_line(i + 1, waves.len(), wave, &failed)));
        failed_total += failed.len();
        success &= failed.is_empty();
        tally.failed.extend(failed.iter().map(|(h, _)| h.clone()));
        let ok = wave.iter().zip(&rolled).filter(|(_, r)| r.result.is_ok()).map(|(h, _)| h.clone());
        if super::must_stop(failed_total, plan.max_fail) {
            stopped = true;
            if plan.revert {
                tally.reverted = revert(plan, wave, dest_waves[i], &rolled, window, deadline, events).await;
                let reverted = tally.reverted.clone();
                tally.rolled.extend(ok.filter(|h| !reverted.contains(h)));
                continue;
            }
        }
        tally.rolled.extend(ok);
    }
    Outcome { tally, success, interrupted }
}

fn fold(hosts: &[String]) -> String {
    let mut set = HostSet::new();
    for h in hosts {
        set.insert(h.clone());
    }
    set.fold()
}

/// Tells every host of one wave and waits for each to be healthy or
/// failed, through the window.
async fn roll_wave(
    plan: &Plan,
    hosts: &[Dest],
    window: &Window,
    deadline: Duration,
    events: &mpsc::UnboundedSender<Event>,
) -> Vec<Rolled> {
    let jobs: Vec<_> = hosts
        .iter()
        .map(|h| {
            let (plan, window, events) = (plan.clone(), window.clone(), events.clone());
            let endpoint = Endpoint::Ssh(SshRoute::from_env(h));
            let host = h.to_string();
            async move {
                let _ = events.send(Event::Host { host: host.clone(), step: HostStep::Connecting });
                let rolled = roll_one(&plan, &window, &endpoint, &host, deadline, &events).await;
                let step = match &rolled.result {
                    Ok(()) => HostStep::Healthy,
                    Err(why) => HostStep::Failed(why.clone()),
                };
                let _ = events.send(Event::Host { host, step });
                rolled
            }
        })
        .collect();
    window
        .each(jobs, |_, _| {})
        .await
        .into_iter()
        .map(|r| r.unwrap_or(Rolled { told_from: None, result: Err("host task failed".into()) }))
        .collect()
}

/// One host: its current level, the tell, then the health gate within
/// `deadline` of the tell, all on one connection.
async fn roll_one(
    plan: &Plan,
    window: &Window,
    endpoint: &Endpoint,
    host: &str,
    deadline: Duration,
    events: &mpsc::UnboundedSender<Event>,
) -> Rolled {
    let mut rolled = Rolled { told_from: None, result: Ok(()) };
    let mut client = match window.connect(endpoint).await {
        Ok(client) => client,
        Err(error) => {
            // The wave line says "unreachable"; ssh's own words go here.
            let _ = events.send(Event::Unreachable { host: host.to_string(), error });
            rolled.result = Err("unreachable".to_string());
            return rolled;
        }
    };
    match tell(&mut client, plan, deadline).await {
        Ok(previous) => rolled.told_from = Some(previous),
        Err(why) => {
            rolled.result = Err(why);
            return rolled;
        }
    }
    rolled.result = healthy(plan, client, deadline, host, events).await;
    rolled
}

/// The group's level on this host, then the tell; the level it had, once
/// the tell was accepted.
async fn tell(client: &mut Client, plan: &Plan, deadline: Duration) -> Result<String, String> {
    let previous = match ask(client, &Request::Status, deadline).await? {
        Response::Snapshot(snap) => match snap.group(&plan.group) {
            Some(g) => g.level.clone().unwrap_or_else(|| NEVER_TOLD.to_string()),
            None => return Err(format!("no group {}", plan.group)),
        },
        other => return Err(format!("unexpected reply {other:?}")),
    };
    let tell = Request::Tell { group: plan.group.clone(), level: plan.level.clone(), dry_run: false };
    match ask(client, &tell, deadline).await? {
        Response::Ok { .. } => Ok(previous),
        Response::Plan(p) if p.error.is_some() => Err(p.error.unwrap_or_default()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// Sends `request`, returns its reply within `deadline`.
async fn ask(client: &mut Client, request: &Request, deadline: Duration) -> Result<Response, String> {
    match tokio::time::timeout(deadline, client.request(request)).await {
        Ok(reply) => reply.map_err(|e| isinit_shared::Failure::from(e).to_string()),
        Err(_) => Err(no_answer(deadline)),
    }
}

/// `no answer within 10 s`, as the command line words a timeout.
fn no_answer(deadline: Duration) -> String {
    format!("no answer within {} s", deadline.as_secs_f64())
}

/// Reads the subscription into a channel: a read of a frame is not
/// cancel-safe, so it must not race the gate's timers in a `select!`.
/// Ends when the receiver is dropped or the connection breaks.
async fn forward(mut client: Client, tx: mpsc::Sender<Result<Response, String>>) {
    loop {
        let message = client.recv().await.map_err(|e| format!("lost: {e}"));
        let broken = message.is_err();
        if tx.send(message).await.is_err() || broken {
            return;
        }
    }
}

/// Aborts the subscription reader however the gate ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes and folds every change through the health gate until the
/// host is healthy, fails, or `deadline` passes; reports each new reason
/// it waits for.
async fn healthy(
    plan: &Plan,
    mut client: Client,
    deadline: Duration,
    host: &str,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(), String> {
    let now = Instant::now();
    let give_up = now.checked_add(deadline).unwrap_or(now);
    client.send(&Request::Subscribe).await.map_err(|e| e.to_string())?;
    let (tx, mut messages) = mpsc::channel(64);
    let _reader = AbortOnDrop(tokio::spawn(forward(client, tx)));
    let mut gate = Gate::new(plan.healthy_for);
    let mut snap: Option<Snapshot> = None;
    let mut recheck: Option<Instant> = None;
    let mut said: Option<HostStep> = None;
    loop {
        let state = tokio::select! {
            message = messages.recv() => {
                let message = message.unwrap_or_else(|| Err("lost: the connection ended".to_string()));
                match message? {
                    Response::Snapshot(s) => snap = Some(*s),
                    // A change that needs a fresh snapshot: wait for it.
                    Response::Update(u) if !snap.as_mut().is_some_and(|s| s.apply(&u)) => snap = None,
                    _ => {}
                }
                match &snap {
                    Some(s) => gate.observe(super::judge(s, &plan.group, &plan.level), Instant::now().into_std()),
                    None => continue,
                }
            }
            _ = sleep_until(recheck) => gate.check(Instant::now().into_std()),
            _ = tokio::time::sleep_until(give_up) => {
                return Err(format!("not healthy within {} s", deadline.as_secs_f64()));
            }
        };
        match state {
            GateState::Healthy => return Ok(()),
            GateState::Failed(why) => return Err(why),
            GateState::Waiting(at, why) => {
                recheck = at.map(Instant::from_std);
                // Only a new kind of wait is news: the seconds of a
                // settled host's healthy-for are not sent one by one.
                let step = if at.is_some() { HostStep::Settling } else { HostStep::Waiting(why) };
                if said.as_ref() != Some(&step) {
                    let _ = events.send(Event::Host { host: host.to_string(), step: step.clone() });
                    said = Some(step);
                }
            }
        }
    }
}

/// Tells every host of the failing wave that was told back to the level it
/// had; reports a line; returns the hosts reverted.
async fn revert(
    plan: &Plan,
    wave: &[String],
    hosts: &[Dest],
    rolled: &[Rolled],
    window: &Window,
    deadline: Duration,
    events: &mpsc::UnboundedSender<Event>,
) -> Vec<String> {
    let told: Vec<(String, Dest, String)> = wave
        .iter()
        .zip(hosts)
        .zip(rolled)
        .filter_map(|((name, dest), r)| r.told_from.clone().map(|level| (name.clone(), dest.clone(), level)))
        .collect();
    let jobs: Vec<_> = told
        .iter()
        .map(|(_, dest, level)| {
            let request = Request::Tell { group: plan.group.clone(), level: level.clone(), dry_run: false };
            let window = window.clone();
            let endpoint = Endpoint::Ssh(SshRoute::from_env(dest));
            async move { window.request(&endpoint, &request, deadline).await.map(|_| ()).map_err(reason) }
        })
        .collect();
    let results = window.each(jobs, |_, _| {}).await;
    let mut reverted = Vec::new();
    let mut failed = Vec::new();
    for ((name, _, _), result) in told.iter().zip(results) {
        match result {
            Some(Ok(())) => reverted.push(name.clone()),
            Some(Err(why)) => failed.push((name.clone(), format!("{why}, left at {}", plan.level))),
            None => failed.push((name.clone(), format!("host task failed, left at {}", plan.level))),
        }
    }
    let line = if failed.is_empty() {
        format!("revert {}: ok", fold(&reverted))
    } else {
        let why: Vec<String> = failed.iter().map(|(h, w)| format!("{h} ({w})")).collect();
        format!("revert {}: failed {}", fold(&told.iter().map(|t| t.0.clone()).collect::<Vec<_>>()), why.join(", "))
    };
    let _ = events.send(Event::Reverted(line));
    reverted
}

/// A host's error as one line, a timeout worded as the command line does.
fn reason(e: HostError) -> String {
    let (HostError::Unreachable(e) | HostError::Failed(e)) = e;
    match e {
        crate::ClientError::Timeout { after, .. } => no_answer(after),
        e => isinit_shared::Failure::from(e).to_string(),
    }
}
