//! Notifications end to end: a real gateway (memory or its own Redis), real HTTP
//! receivers (small hyper servers) answering as each test scripts them.

// Test helpers panic on purpose: a broken receiver or body must fail the test.
#![allow(clippy::unwrap_used)]

#[path = "../gateway/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../support/cluster.rs"]
mod test_cluster;
#[path = "../support/redis.rs"]
mod test_redis;

mod receiver;

mod bodies;
mod cluster;
mod dead;
mod lifecycle;
mod replicas;
mod retries;
mod trim;
