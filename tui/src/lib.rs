#![warn(missing_docs)]
//! The isinit operator console: every resource group, level and process of
//! one daemon, live, with keys to switch levels and reload the isinittab.
//!
//! The crate is a library so that the rendering can be snapshot-tested and
//! benchmarked without a terminal; `main.rs` only wires it up.
//!
//! Data flows one way: the [`client`] task owns every connection to the
//! daemon and turns what it hears into [`client::ClientEvent`]s; the
//! [`event_loop`] turns those, key presses ([`input`]) and the uptime tick
//! into [`app::Action`]s; [`app::App::update`] folds each action into the
//! model and queues [`client::Command`]s for the client task; [`ui`] draws
//! the model from a shared borrow, only when something changed.
//!
//! With `-H` for two or more hosts, [`fleet`] keeps one such model per
//! host and [`fleet_loop`] drives them all, drawing the fleet screen or the
//! host the operator opened.

pub mod app;
pub mod client;
pub mod clock;
pub mod event_loop;
pub mod fixture;
pub mod fleet;
pub mod fleet_loop;
pub mod input;
pub mod ui;
