//! hookbr's integration tests, in one binary.
//!
//! * [`fixtures`]: every wire-format fixture under `crates/hookbr-core/fixtures/` decodes to the
//!   right typed event, field by field, and serializes back with the wire field names and
//!   without authentication material.
//! * [`pipeline`]: one test per row of the status table in `/work/shared/DESIGN.md`, for every
//!   provider the row applies to, through `Receiver::process`.
//! * [`dedup`]: two-phase idempotency under concurrency, release and lease expiry.
//! * [`support`]: shared helpers (executor, per-provider cases, a failing store).
//! * [`adapters`]: the same deliveries through real axum and actix-web servers ([`servers`]) on
//!   127.0.0.1 with a real HTTP client; both adapters must answer alike.
//! * [`head`]: what the adapters decide on a request's head, over raw TCP: `401` before the
//!   body for a missing head credential, every copy of a coding header.
//! * [`redis`]: shared dedup on a real Redis server started by `scripts/test`.

#[cfg(test)]
mod adapters;
#[cfg(test)]
mod dedup;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod head;
#[cfg(test)]
mod pipeline;
#[cfg(test)]
mod redis;
#[cfg(test)]
mod servers;
#[cfg(test)]
mod support;
