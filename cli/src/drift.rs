//! `isinit drift [-H …]`: does every host run the same isinittab?
//!
//! The file "must be replicated across all hosts by some means"; this is
//! the check that it was. Each host is asked for the text it runs (not
//! merely the file on disk, which may hold an edit nobody applied), the
//! most common version is taken as the reference, and every other version
//! is shown as a unified diff against it.

use super::Failure;
use super::fleet::{err, missed, no_answer, out};
use super::gather::{Progress, error_lines};
use isinit_client::Client;
use isinit_client::fleet::Window;
use isinit_client::transport::{Dest, Endpoint, SshRoute};
use isinit_shared::protocol::{OnDisk, Request, Response, RunningConfig};
use similar::TextDiff;
use std::path::Path;
use std::time::Duration;

/// Hex digits of the SHA-256 shown per host: enough to tell versions apart.
const SHA_SHOWN: usize = 12;

/// Exit status: every host runs the same file, and no edit waits.
const AGREE: u8 = 0;
/// Exit status: a host runs another file, or an edit on disk waits.
const DRIFT: u8 = 1;
/// Exit status: a host could not be asked.
const UNASKED: u8 = 2;

/// Asks every host through the fan-out window (or, with none, the local
/// daemon), each reached within the window's connect timeout and
/// answering within `deadline`; prints the report and returns the exit
/// status.
pub async fn run(hosts: Vec<Dest>, socket: &Path, window: Window, deadline: Duration) -> u8 {
    let answers: Vec<(String, Result<RunningConfig, Failure>)> = if hosts.is_empty() {
        let answer = ask_local(Endpoint::Socket(socket.to_owned()), deadline).await;
        let name = answer.as_ref().map(|c| c.path.clone()).unwrap_or_else(|_| socket.display().to_string());
        vec![(name, answer)]
    } else {
        let jobs: Vec<_> = hosts
            .iter()
            .map(|h| {
                let (endpoint, window) = (Endpoint::Ssh(SshRoute::from_env(h)), window.clone());
                async move { ask(&window, &endpoint, deadline).await }
            })
            .collect();
        let mut progress = Progress::new(hosts.len());
        let results = window.each(jobs, |done, total| progress.update(done, total)).await;
        progress.finish();
        hosts
            .into_iter()
            .zip(results)
            .map(|(h, a)| (h.to_string(), a.unwrap_or_else(|| Err(Failure::new("host task failed")))))
            .collect()
    };
    let report = report(&answers);
    out(&report.stdout);
    err(&report.stderr);
    report.exit
}

async fn ask(window: &Window, endpoint: &Endpoint, deadline: Duration) -> Result<RunningConfig, Failure> {
    match window.request(endpoint, &Request::RunningConfig, deadline).await {
        Err(e) => Err(missed(e).failure),
        Ok((_, Response::RunningConfig(config))) => Ok(config),
        Ok((_, other)) => Err(Failure::new(format!("unexpected reply from the daemon: {other:?}"))),
    }
}

async fn ask_local(endpoint: Endpoint, deadline: Duration) -> Result<RunningConfig, Failure> {
    let answer = Client::connect_and_request_to(&endpoint, &Request::RunningConfig, deadline);
    match tokio::time::timeout(deadline, answer).await {
        Err(_) => Err(no_answer(deadline)),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok((_, Response::RunningConfig(config)))) => Ok(config),
        Ok(Ok((_, other))) => Err(Failure::new(format!("unexpected reply from the daemon: {other:?}"))),
    }
}

/// What `drift` prints and how it exits, computed from the answers alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// One line per host that answered, then the diffs.
    pub stdout: String,
    /// `DEST: error: REASON` per host that could not be asked.
    pub stderr: String,
    /// [`AGREE`], [`DRIFT`] or [`UNASKED`].
    pub exit: u8,
}

/// Builds the report: the majority version (ties: the first host's) is
/// the reference, every other version a DRIFT.
pub fn report(answers: &[(String, Result<RunningConfig, Failure>)]) -> Report {
    let ok: Vec<(&str, &RunningConfig)> =
        answers.iter().filter_map(|(h, a)| a.as_ref().ok().map(|c| (h.as_str(), c))).collect();
    // Versions in order of first appearance, with the hosts running each.
    let mut versions: Vec<(&RunningConfig, Vec<&str>)> = Vec::new();
    for (host, config) in &ok {
        match versions.iter_mut().find(|(c, _)| c.sha256 == config.sha256) {
            Some((_, hosts)) => hosts.push(host),
            None => versions.push((config, vec![host])),
        }
    }
    let majority =
        versions.iter().enumerate().max_by_key(|(i, (_, hosts))| (hosts.len(), usize::MAX - i)).map(|(i, _)| i);
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut exit = AGREE;
    for (host, answer) in answers {
        match answer {
            Ok(config) => {
                let same = majority.is_some_and(|m| versions[m].0.sha256 == config.sha256);
                let mark = if same { "same" } else { "DRIFT" };
                let edit = if config.unapplied() { " unapplied edit" } else { "" };
                stdout.push_str(&format!("{host} {} {mark}{edit}\n", short(&config.sha256)));
                if !same || config.unapplied() {
                    exit = exit.max(DRIFT);
                }
            }
            Err(f) => {
                stderr.push_str(&error_lines(host, f));
                exit = UNASKED;
            }
        }
    }
    if let Some(m) = majority {
        let (reference, reference_hosts) = &versions[m];
        for (i, (config, hosts)) in versions.iter().enumerate() {
            if i != m {
                let old = format!("{} ({})", reference_hosts.join(", "), short(&reference.sha256));
                let new = format!("{} ({})", hosts.join(", "), short(&config.sha256));
                stdout.push_str(&diff(&reference.text, &config.text, &old, &new));
            }
        }
    }
    for (host, config) in &ok {
        match &config.on_disk {
            OnDisk::Same => {}
            OnDisk::Differs { sha256, text } => {
                let old = format!("{host} running ({})", short(&config.sha256));
                let new = format!("{host} on disk {} ({})", config.path, short(sha256));
                stdout.push_str(&diff(&config.text, text, &old, &new));
            }
            OnDisk::Unreadable(why) => stdout.push_str(&format!("{host}: cannot read {}: {why}\n", config.path)),
        }
    }
    Report { stdout, stderr, exit }
}

fn short(sha: &str) -> &str {
    sha.get(..SHA_SHOWN).unwrap_or(sha)
}

fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(old_name, new_name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use isinit_shared::config::Inittab;

    fn config(text: &str) -> RunningConfig {
        RunningConfig {
            path: "/etc/isinittab".into(),
            sha256: Inittab::digest(text.as_bytes()),
            text: text.into(),
            on_disk: OnDisk::Same,
        }
    }

    const A: &str = "web:1:respawn:/bin/web\nmail:run:respawn:/bin/mta\n";
    const B: &str = "web:1:respawn:/bin/web --fast\nmail:run:respawn:/bin/mta\n";

    #[test]
    fn all_the_same_exits_zero() {
        let answers = vec![("a".to_string(), Ok(config(A))), ("b".to_string(), Ok(config(A)))];
        let r = report(&answers);
        let sha = short(&config(A).sha256).to_string();
        assert_eq!(r.stdout, format!("a {sha} same\nb {sha} same\n"));
        assert_eq!((r.stderr.as_str(), r.exit), ("", AGREE));
    }

    #[test]
    fn the_minority_is_diffed_against_the_majority() {
        let answers =
            vec![("a".to_string(), Ok(config(B))), ("b".to_string(), Ok(config(A))), ("c".to_string(), Ok(config(A)))];
        let r = report(&answers);
        assert_eq!(r.exit, DRIFT);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert!(lines[0].starts_with("a ") && lines[0].ends_with(" DRIFT"), "{}", r.stdout);
        assert!(lines[1].ends_with(" same") && lines[2].ends_with(" same"), "{}", r.stdout);
        assert!(lines[3].starts_with("--- b, c ("), "{}", r.stdout);
        assert!(lines[4].starts_with("+++ a ("), "{}", r.stdout);
        assert!(r.stdout.contains("\n-web:1:respawn:/bin/web\n+web:1:respawn:/bin/web --fast\n"), "{}", r.stdout);
    }

    #[test]
    fn an_unapplied_edit_is_drift_and_shown() {
        let mut edited = config(A);
        edited.on_disk = OnDisk::Differs { sha256: Inittab::digest(B.as_bytes()), text: B.into() };
        let r = report(&[("a".to_string(), Ok(edited))]);
        assert_eq!(r.exit, DRIFT);
        assert!(r.stdout.lines().next().unwrap().ends_with(" same unapplied edit"), "{}", r.stdout);
        assert!(r.stdout.contains("+web:1:respawn:/bin/web --fast\n"), "{}", r.stdout);
    }

    #[test]
    fn a_host_not_asked_exits_two() {
        let answers =
            vec![("a".to_string(), Ok(config(A))), ("b".to_string(), Err(Failure::new("Connection refused")))];
        let r = report(&answers);
        assert_eq!(r.exit, UNASKED);
        assert_eq!(r.stderr, "b: error: Connection refused\n");
        assert_eq!(r.stdout.lines().count(), 1);
    }
}
