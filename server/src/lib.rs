//! jetcore-server: the `jetcore` binary's library — a NATS server that standard
//! clients use without noticing it is not the Go `nats-server`.
//!
//! Layout (one concern per file):
//! - `main.rs` — process entry: flags, config, logging, signals, pid/ports files.
//! - [`cli`] — Go-compatible command-line flags.
//! - [`conf`] — the NATS configuration file format; [`conf_apply`] maps it onto
//!   [`options::Options`], which holds every setting with Go's default.
//! - [`server`] — starts the shards (via `jetcore-router`), binds the client port on
//!   every shard, prints the readiness lines, shuts down gracefully.
//! - [`shard`] — what one core owns: its subscriptions, the other cores' interest,
//!   and how a publish reaches every interested subscriber exactly once.
//! - [`client`] — one connection: reader, writer and pinger tasks; subscriptions.
//! - [`protocol`] — parsing client operations, INFO/CONNECT, encoding MSG/HMSG.
//! - [`subject`] and [`sublist`] — subject rules and the subject index.
//! - [`route`] and [`outbox`] — what shards send each other and how it is batched.
//! - [`global`] — the few process-wide counters and flags, and the options a reload
//!   may change.
//! - [`logging`] — Go-format log lines, written by one thread that never blocks a shard.
//! - [`signals`] — SIGINT/TERM/HUP/USR1/USR2, lame duck mode, `--signal`;
//!   [`reload`] — config reload (SIGHUP) and the pid/ports files.
//! - [`monitor`] — the monitoring HTTP port (`/varz`, `/connz`, `/jsz`...), on core 0;
//!   [`stats`] — the per-core traffic counters it reads.

pub mod cli;
pub mod client;
pub mod conf;
pub mod conf_apply;
pub mod global;
pub mod jetstream;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod outbox;
pub mod protocol;
pub mod reload;
pub mod route;
pub mod server;
pub mod shard;
pub mod signals;
pub use jetcore_storage::subject;
pub mod stats;
pub mod sublist;
