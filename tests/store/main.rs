//! One conformance suite for every `IncidentStore` backend (docs/design.md §4), and what only one
//! backend does.
//!
//! - `cases/`: each case written once, generic over a `Backend` (`backend.rs`); the
//!   `conformance!` macro instantiates every case for the memory store (`memory::*`) and
//!   for the Redis store (`redis::*`), under the case's own name.
//! - `memory_retention.rs`: the memory store's `max_resolved` bound.
//! - `redis_only.rs`: a networked store going away and coming back, key prefixes, the
//!   key names written. `redis_record.rs`: the incident record (long texts once, a
//!   compact hash, slim stream entries). `redis_expiry.rs`: resolved incidents expiring (`resolved_ttl`).
//!   `redis_retention.rs`: the sweeper emptying the indexes of expired incidents.
//!
//! Every Redis test runs a `redis-server` of its own (`tests/support/redis.rs`); without
//! one on PATH they are skipped, or fail under `ALERTGATE_REQUIRE_ALL=1`.

// Test data is built from small loop counters: their casts cannot wrap.
#![allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]

#[path = "../support/relay.rs"]
mod relay;
#[path = "../support/cluster.rs"]
mod test_cluster;
#[path = "../support/redis.rs"]
mod test_redis;

mod backend;
mod cases;
mod common;
mod memory_retention;
mod redis_expiry;
mod redis_migrate;
mod redis_only;
mod redis_record;
mod redis_retention;

/// Instantiates every case for one backend as `#[tokio::test]`s of the same name.
#[macro_export]
macro_rules! conformance {
    ($backend:ty) => {
        $crate::conformance!(@cases $backend, $crate::common::STREAM_LEN;
            open_update_resolve_tracks_one_incident,
            resolve_with_nothing_open_is_already_resolved_and_creates_nothing,
            open_after_resolve_creates_new_incident,
            older_event_time_is_stale_and_time_outlives_resolve,
            equal_event_time_is_not_stale,
            ignored_outcome_touches_nothing,
            open_or_resolve_without_fingerprint_is_an_error,
            same_fingerprint_under_two_sources_is_two_incidents,
            ten_kilobyte_fingerprint_round_trips,
            list_is_newest_first_and_filters_by_status_and_source,
            list_pages_with_cursor_until_exhausted,
            every_filter_pages_newest_first_across_sources,
            list_rejects_bad_cursor,
            get_unknown_or_malformed_id_is_none,
            event_stream_records_transitions_in_order,
            incident_events_are_that_incidents_own_oldest_first,
            concurrent_opens_from_two_replicas_make_one_incident_and_one_resolve,
            open_count_and_is_open_follow_every_bucket,
            auto_resolve_fires_once_at_its_deadline,
            update_pushes_the_deadline_out_and_resolve_clears_it,
            flapping_marks_the_nth_open_until_a_quiet_window,
            heartbeat_opens_once_when_silent_and_resolves_when_heard,
            concurrent_sweeps_fire_each_deadline_once,
        );
        $crate::conformance!(@cases $backend, 5; event_stream_keeps_only_newest_bounded_events);
    };
    (@cases $backend:ty, $stream_len:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(backend) = <$backend as $crate::backend::Backend>::setup($stream_len).await else {
                    return;
                };
                $crate::cases::$case(&backend).await;
            }
        )+
    };
}

mod memory {
    crate::conformance!(crate::backend::Memory);
}

mod redis {
    crate::conformance!(crate::backend::Redis);
}

mod cluster {
    crate::conformance!(crate::backend::Cluster);
}
