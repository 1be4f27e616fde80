//! Prometheus metrics: the daemon's status snapshot in the text exposition
//! format, printed by `isinit metrics` and served at `/metrics` by
//! `isinit daemon --metrics-listen ADDR:PORT`.
//!
//! Both are built from the same [`Snapshot`](isinit_shared::protocol::Snapshot)
//! `isinit status` shows, so a scrape costs one status request and nothing
//! is computed, stored or timed in between: no scrape, no work.

pub mod http;

pub use isinit_shared::metrics::{CONTENT_TYPE, render, render_usage};
