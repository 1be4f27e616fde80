use super::*;
use crate::transport::{Dest, SshRoute};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn never_more_than_fanout_jobs_at_once_and_results_in_order() {
    runtime().block_on(async {
        let window = Window::new(3, DEFAULT_CONNECT_TIMEOUT);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..20u64)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Later jobs finish first: order must still be kept.
                    tokio::time::sleep(Duration::from_millis(20 - i)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                }
            })
            .collect();
        let mut progress = Vec::new();
        let results = window.each(jobs, |done, total| progress.push((done, total))).await;
        assert_eq!(most.load(Ordering::SeqCst), 3, "the window was not full, or overflowed");
        assert_eq!(results, (0..20).map(|i| Some(i * 10)).collect::<Vec<_>>());
        assert_eq!(progress, (1..=20).map(|d| (d, 20)).collect::<Vec<_>>());
    });
}

#[test]
fn a_fanout_of_zero_still_runs_one_at_a_time() {
    runtime().block_on(async {
        let window = Window::new(0, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(window.fanout(), 1);
        let results = window.each((1..=2).map(|i| async move { i }).collect(), |_, _| {}).await;
        assert_eq!(results, [Some(1), Some(2)]);
    });
}

/// A "host" whose ssh starts and then says nothing, as a host behind a
/// dropped route does.
fn hung(name: &str) -> Endpoint {
    Endpoint::Ssh(SshRoute {
        dest: Dest::new(name).unwrap(),
        ssh: vec!["sh".into(), "-c".into(), "exec sleep 30".into()],
        remote_bin: "isinit".into(),
    })
}

#[test]
fn a_hung_host_costs_its_connect_timeout() {
    runtime().block_on(async {
        let connect = Duration::from_millis(300);
        let window = Window::new(1, connect);
        let start = Instant::now();
        let jobs: Vec<_> = (0..3)
            .map(|i| {
                let window = window.clone();
                async move { window.connect(&hung(&format!("h{i}"))).await.err() }
            })
            .collect();
        let results = window.each(jobs, |_, _| {}).await;
        let took = start.elapsed();
        for r in results {
            let e = r.flatten().expect("a hung host is an error");
            assert!(matches!(e, HostError::Unreachable(ClientError::Timeout { .. })), "{e}");
        }
        // One at a time: three connect timeouts, not three command deadlines.
        assert!(took >= connect * 3, "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    });
}

#[test]
fn a_host_whose_ssh_fails_is_unreachable_with_its_reason() {
    runtime().block_on(async {
        let route = SshRoute {
            dest: Dest::new("db3").unwrap(),
            ssh: vec!["sh".into(), "-c".into(), "echo 'ssh: connect to host db3: Connection refused' >&2".into()],
            remote_bin: "isinit".into(),
        };
        let e = Window::default().connect(&Endpoint::Ssh(route)).await.err().expect("an error");
        assert!(matches!(e, HostError::Unreachable(_)), "{e}");
        assert!(e.to_string().contains("Connection refused"), "{e}");
    });
}
