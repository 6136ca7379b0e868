//! The delivery task trims the stream to `event_stream_len`, never past an entry a sink
//! has not acknowledged.

use std::time::Duration;

use serial_test::serial;

use crate::harness::{config_dir, redis_store_yaml, TestRedis};
use crate::receiver::{always, hook, redis_of, serve, started, wait_for, Receiver};

async fn xlen(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("XLEN")
        .arg("alertgate-test:events")
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn redis_trim_keeps_what_a_sink_still_needs() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let rx = Receiver::start(always(500)).await;
    let store_yaml = format!("{}\n  event_stream_len: 3", redis_store_yaml(&redis.url()));
    let extra = format!(
        "sinks:\n  slow:\n    type: webhook\n    url: \"{}\"\n    max_attempts: 1000\n    backoff_initial: 200ms\n    backoff_max: 200ms\n",
        rx.url()
    );
    let (dir, snapshot) = config_dir(&store_yaml, &extra);
    let store = redis_of(&snapshot).await;
    let (gw, delivery) = serve(snapshot, store, Some(dir)).await;
    started(&delivery).await;
    for n in 0..10 {
        hook(&gw, &format!("i{n}"), "down").await;
    }
    // Two housekeeping rounds: nothing the sink has not acknowledged may go.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(xlen(&redis.url()).await, 10, "unacknowledged entries kept");
    rx.set_script(always(200));
    wait_for("all delivered", Duration::from_secs(30), || {
        rx.accepted().len() >= 10
    })
    .await;
    let url = redis.url();
    let mut len = u64::MAX;
    for _ in 0..150 {
        len = xlen(&url).await;
        if len <= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(len, 3, "trimmed to event_stream_len once acknowledged");
    delivery.stop().await;
    gw.stop().await;
    rx.stop();
}
