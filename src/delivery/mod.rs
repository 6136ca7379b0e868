//! Outbound notifications: every incident event the store streams is delivered to each
//! configured sink (webhook, Slack, PagerDuty) at least once, in order per sink and
//! replica, with retries and a dead-letter stream per sink (docs/design.md §11).
//!
//! `feed` is the stream source behind a small trait (`EventFeed`), implemented for the
//! Redis stream (one consumer group per sink) and the memory store's event ring;
//! `render` builds request bodies (pure); `client` sends one attempt; `retry` is the one
//! backoff policy; `consumer` runs one sink; `supervisor` starts and stops consumers as
//! the snapshot's `sinks:` change, trims the Redis stream and serves the admin API.
//! The webhook path never waits on any of it: it only writes the stream.

mod client;
mod consumer;
mod feed;
mod memory_feed;
mod redis_feed;
mod render;
mod retry;
mod supervisor;

pub use self::feed::{EventFeed, FeedEntry, FeedStats};
pub use self::render::{dedup_key, event_json, pagerduty_body, signature, slack_body};
pub use self::retry::{backoff, parse_retry_after};
pub use self::supervisor::{Delivery, SinkReport};
