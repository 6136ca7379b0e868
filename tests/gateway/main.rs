//! The gateway end to end: a real server on `127.0.0.1:0`, real HTTP, memory and Redis.

mod harness;
#[path = "../support/relay.rs"]
mod relay;
#[path = "../support/alertmanager.rs"]
mod test_alertmanager;
#[path = "../support/cluster.rs"]
mod test_cluster;
#[path = "../support/redis.rs"]
mod test_redis;
#[path = "../support/sentinel.rs"]
mod test_sentinel;
#[path = "../support/tls_redis.rs"]
mod test_tls_redis;

mod alertmanager;
mod api;
mod bounds;
mod cli;
mod console_api;
mod durability;
mod errors;
mod failover;
mod fanout;
mod lifecycle;
mod migrate_cli;
mod outage;
mod race;
mod secrets;
mod sources_api;
mod sources_cli;
mod spool;
mod tls;
mod verify;
mod webhooks;

/// Instantiates an async test case `fn(Gateway)` once per backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let gw = $crate::harness::Gateway::start($crate::harness::Backend::Memory)
                        .await
                        .expect("memory gateway");
                    super::$name(&gw).await;
                    gw.stop().await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(gw) = $crate::harness::Gateway::start($crate::harness::Backend::Redis).await else {
                        return;
                    };
                    super::$name(&gw).await;
                    gw.stop().await;
                }
            )*
        }
    };
}
