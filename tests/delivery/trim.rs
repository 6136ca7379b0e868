//! The delivery task trims each bucket's stream to `event_stream_len`, never past an
//! entry a sink has not acknowledged there.

use std::time::Duration;

use serial_test::serial;

use crate::harness::{config_dir, TestRedis};
use crate::receiver::{
    always, bucketed_yaml, hook, redis_of, serve, started, stream_keys, wait_for, Receiver,
};

/// The length of every bucket's stream.
async fn xlens(url: &str) -> Vec<u64> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut out = Vec::new();
    for key in stream_keys() {
        let len: u64 = redis::cmd("XLEN")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        out.push(len);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_trim_keeps_what_a_sink_still_needs() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let rx = Receiver::start(always(500)).await;
    let store_yaml = format!("{}\n  event_stream_len: 3", bucketed_yaml(&redis.url()));
    let extra = format!(
        "sinks:\n  slow:\n    type: webhook\n    url: \"{}\"\n    max_attempts: 1000\n    backoff_initial: 200ms\n    backoff_max: 200ms\n",
        rx.url()
    );
    let (dir, snapshot) = config_dir(&store_yaml, &extra);
    let store = redis_of(&snapshot).await;
    let (gw, delivery) = serve(snapshot, store, Some(dir)).await;
    started(&delivery).await;
    // Enough incidents that some bucket gets more than `event_stream_len` of them.
    for n in 0..24 {
        hook(&gw, &format!("i{n}"), "down").await;
    }
    // Two housekeeping rounds: nothing the sink has not acknowledged may go.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = xlens(&redis.url()).await;
    assert_eq!(
        before.iter().sum::<u64>(),
        24,
        "unacknowledged entries kept"
    );
    assert!(
        before.iter().filter(|&&n| n > 0).count() > 1,
        "the events spread over several buckets: {before:?}"
    );
    assert!(before.iter().any(|&n| n > 3), "{before:?}");
    rx.set_script(always(200));
    wait_for("all delivered", Duration::from_secs(30), || {
        rx.accepted().len() >= 24
    })
    .await;
    // Each bucket's stream on its own: trimmed to `event_stream_len`, shorter ones kept.
    let want: Vec<u64> = before.iter().map(|&n| n.min(3)).collect();
    let url = redis.url();
    let mut lens = Vec::new();
    for _ in 0..150 {
        lens = xlens(&url).await;
        if lens == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        lens, want,
        "each stream trimmed to event_stream_len once acknowledged"
    );
    delivery.stop().await;
    gw.stop().await;
    rx.stop();
}
