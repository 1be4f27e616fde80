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
//! are pure, in `isinit_client::fleet::rollout`; this is their driver.

use super::Failure;
use super::fleet::{Options, err, missed, out};
use super::gather::{self, Kind};
use isinit_client::Client;
use isinit_client::fleet::Window;
use isinit_client::fleet::rollout::{self, Batch, Gate, GateState, Tally};
use isinit_client::transport::{Dest, Endpoint, SshRoute};
use isinit_shared::protocol::{Request, Response, Snapshot};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};
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

/// The level a never-told group goes back to: 0 stops it, as it was.
const NEVER_TOLD: &str = "0";

/// What became of one host of a wave.
struct Rolled {
    /// The level the group had before it was told (only once told).
    told_from: Option<String>,
    /// Healthy, or why not (and whether the host was reached at all).
    result: Result<(), (Kind, String)>,
}

/// Runs the rollout (or, with `dry_run`, prints its waves); returns the
/// exit status: 0 only when every wave succeeded and every host was told.
pub async fn run(plan: Plan, hosts: Vec<Dest>, dry_run: bool, options: Options) -> u8 {
    let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let waves = rollout::waves(&names, plan.batch);
    let dest_waves: Vec<&[Dest]> = hosts.chunks(plan.batch.size(hosts.len())).collect();
    if dry_run {
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
    let mut tally = Tally::default();
    let (mut failed_total, mut stopped, mut success) = (0, false, true);
    for (i, wave) in waves.iter().enumerate() {
        if stopped || interrupted.load(Ordering::SeqCst) {
            tally.not_told.extend(wave.iter().cloned());
            success = false;
            continue;
        }
        let rolled = roll_wave(&plan, dest_waves[i], &options).await;
        let failed: Vec<(String, String)> = wave
            .iter()
            .zip(&rolled)
            .filter_map(|(h, r)| r.result.as_ref().err().map(|(_, why)| (h.clone(), why.clone())))
            .collect();
        out(&format!("{}\n", rollout::wave_line(i + 1, waves.len(), wave, &failed)));
        failed_total += failed.len();
        success &= failed.is_empty();
        tally.failed.extend(failed.iter().map(|(h, _)| h.clone()));
        let ok = wave.iter().zip(&rolled).filter(|(_, r)| r.result.is_ok()).map(|(h, _)| h.clone());
        if rollout::must_stop(failed_total, plan.max_fail) {
            stopped = true;
            if plan.revert {
                tally.reverted = revert(&plan, wave, dest_waves[i], &rolled, &options).await;
                let reverted = tally.reverted.clone();
                tally.rolled.extend(ok.filter(|h| !reverted.contains(h)));
                continue;
            }
        }
        tally.rolled.extend(ok);
    }
    watcher.abort();
    if interrupted.load(Ordering::SeqCst) && !tally.not_told.is_empty() {
        err("isinit: interrupted: stopped after the current wave\n");
    }
    out(&format!("{}\n", tally.line()));
    let mut code = if success { 0 } else { 1 };
    if let Some(path) = &options.failed_to {
        let text: String = tally.failed.iter().map(|h| format!("{h}\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            err(&format!("isinit: cannot write {}: {e}\n", path.display()));
            code = 1;
        }
    }
    code
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

/// Tells every host of one wave and waits for each to be healthy or
/// failed, through the window.
async fn roll_wave(plan: &Plan, hosts: &[Dest], options: &Options) -> Vec<Rolled> {
    let jobs: Vec<_> = hosts
        .iter()
        .map(|h| {
            let (plan, window, deadline) = (plan.clone(), options.window.clone(), options.deadline);
            let endpoint = Endpoint::Ssh(SshRoute::from_env(h));
            let host = h.to_string();
            async move { roll_one(&plan, &window, &endpoint, &host, deadline).await }
        })
        .collect();
    options
        .window
        .each(jobs, |_, _| {})
        .await
        .into_iter()
        .map(|r| r.unwrap_or(Rolled { told_from: None, result: Err((Kind::Failed, "host task failed".into())) }))
        .collect()
}

/// One host: its current level, the tell, then the health gate within
/// `deadline` of the tell, all on one connection.
async fn roll_one(plan: &Plan, window: &Window, endpoint: &Endpoint, host: &str, deadline: Duration) -> Rolled {
    let mut rolled = Rolled { told_from: None, result: Ok(()) };
    let mut client = match window.connect(endpoint).await {
        Ok(client) => client,
        Err(e) => {
            let m = missed(e);
            // The wave line says "unreachable"; ssh's own words go here.
            err(&gather::error_lines(host, &m.failure));
            rolled.result = Err((Kind::Unreachable, "unreachable".to_string()));
            return rolled;
        }
    };
    match tell(&mut client, plan, deadline).await {
        Ok(previous) => rolled.told_from = Some(previous),
        Err(why) => {
            rolled.result = Err((Kind::Failed, why));
            return rolled;
        }
    }
    rolled.result = healthy(plan, client, deadline).await.map_err(|why| (Kind::Failed, why));
    rolled
}

/// The group's level on this host, then the tell; the level it had, once
/// the tell was accepted.
async fn tell(client: &mut Client, plan: &Plan, deadline: Duration) -> Result<String, String> {
    let previous = match ask(client, &Request::Status, deadline).await.map_err(|f| f.to_string())? {
        Response::Snapshot(snap) => match snap.group(&plan.group) {
            Some(g) => g.level.clone().unwrap_or_else(|| NEVER_TOLD.to_string()),
            None => return Err(format!("no group {}", plan.group)),
        },
        other => return Err(format!("unexpected reply {other:?}")),
    };
    let tell = Request::Tell { group: plan.group.clone(), level: plan.level.clone(), dry_run: false };
    match ask(client, &tell, deadline).await.map_err(|f| f.to_string())? {
        Response::Ok { .. } => Ok(previous),
        Response::Plan(p) if p.error.is_some() => Err(p.error.unwrap_or_default()),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// Sends `request`, returns its reply within `deadline`.
async fn ask(client: &mut Client, request: &Request, deadline: Duration) -> Result<Response, Failure> {
    match tokio::time::timeout(deadline, client.request(request)).await {
        Ok(reply) => reply.map_err(Failure::from),
        Err(_) => Err(super::fleet::no_answer(deadline)),
    }
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
/// host is healthy, fails, or `deadline` passes.
async fn healthy(plan: &Plan, mut client: Client, deadline: Duration) -> Result<(), String> {
    let now = Instant::now();
    let give_up = now.checked_add(deadline).unwrap_or(now);
    client.send(&Request::Subscribe).await.map_err(|e| e.to_string())?;
    let (tx, mut messages) = mpsc::channel(64);
    let _reader = AbortOnDrop(tokio::spawn(forward(client, tx)));
    let mut gate = Gate::new(plan.healthy_for);
    let mut snap: Option<Snapshot> = None;
    let mut recheck: Option<Instant> = None;
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
                    Some(s) => gate.observe(rollout::judge(s, &plan.group, &plan.level), Instant::now().into_std()),
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
            GateState::Waiting(at, _) => recheck = at.map(Instant::from_std),
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Tells every host of the failing wave that was told back to the level it
/// had; prints a line; returns the hosts reverted.
async fn revert(plan: &Plan, wave: &[String], hosts: &[Dest], rolled: &[Rolled], options: &Options) -> Vec<String> {
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
            let (window, deadline) = (options.window.clone(), options.deadline);
            let endpoint = Endpoint::Ssh(SshRoute::from_env(dest));
            async move { window.request(&endpoint, &request, deadline).await.map(|_| ()).map_err(|e| missed(e).failure) }
        })
        .collect();
    let results = options.window.each(jobs, |_, _| {}).await;
    let mut reverted = Vec::new();
    let mut failed = Vec::new();
    for ((name, _, _), result) in told.iter().zip(results) {
        match result {
            Some(Ok(())) => reverted.push(name.clone()),
            Some(Err(f)) => failed.push((name.clone(), format!("{f}, left at {}", plan.level))),
            None => failed.push((name.clone(), format!("host task failed, left at {}", plan.level))),
        }
    }
    let line = if failed.is_empty() {
        format!("revert {}: ok\n", fold(&reverted))
    } else {
        let why: Vec<String> = failed.iter().map(|(h, w)| format!("{h} ({w})")).collect();
        format!("revert {}: failed {}\n", fold(&told.iter().map(|t| t.0.clone()).collect::<Vec<_>>()), why.join(", "))
    };
    out(&line);
    reverted
}
