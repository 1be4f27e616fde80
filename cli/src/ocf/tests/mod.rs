//! Unit tests of the agent's pure parts: parameters, meta-data and the
//! decisions over hand-made snapshots.

mod alone;
mod metadata;
mod params;
mod view;
