//! One live connection to the store's Redis, whatever its topology: a single server (or
//! the master a Sentinel names) over one multiplexed connection, or a Redis Cluster over
//! redis-rs' cluster connection (commands routed by key slot). Owns how to open one
//! (`Connector`), TLS included; not when to (that is `link`).

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{
    AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, TlsCertificates, TlsMode, Value,
};

/// Each connection attempt gives up after this long.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Each command gives up after this long without a reply.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the store's Redis is: the three mutually exclusive `store.url`, `store.sentinel`
/// and `store.cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS.
    Url(String),
    /// The master a quorum of Sentinels names `master_name`, re-asked after every lost
    /// connection (and after a `READONLY` reply: a demoted master).
    Sentinel {
        master_name: String,
        /// The Sentinels, `redis://host:port` each.
        urls: Vec<String>,
        /// The master's (and replicas') password, when they need one.
        password: Option<String>,
    },
    /// A Redis Cluster, found from any of these seed nodes.
    Cluster { urls: Vec<String> },
}

/// TLS to Redis: on when the url is `rediss://` (or `tls` is set with Sentinel/Cluster).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// PEM file of the CA(s) that signed the servers' certificates, instead of the
    /// system's trust store.
    pub ca_file: Option<std::path::PathBuf>,
}

/// A connection of either kind; cheap to clone (both share one socket set).
#[derive(Clone)]
pub(super) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// Runs `cmd` on the server that holds `key` (on one server: that server). `WAIT`
    /// must go where the write went, and names no key itself.
    pub(super) async fn on_node_of(&mut self, key: &str, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Conn::Single(c) => c.send_packed_command(cmd).await,
            Conn::Cluster(c) => {
                let route = Route::new(slot(key.as_bytes()), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                c.route_command(cmd, routing).await
            }
        }
    }
}

/// The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag (the text between the
/// first `{` and the next `}`, when not empty), else of the whole key, mod 16384.
pub(super) fn slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc % 16384
}

/// Opens connections to one target.
#[derive(Clone)]
pub(super) struct Connector {
    target: RedisTarget,
    certs: Option<Certs>,
}

/// The CA to trust, read once at startup.
#[derive(Clone)]
struct Certs(Option<Vec<u8>>);

impl Certs {
    fn get(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: None,
            root_cert: self.0.clone(),
        }
    }
}

impl Connector {
    /// Checks the target's urls and reads the CA file; no connection yet.
    pub(super) fn new(target: RedisTarget, tls: Option<&TlsSettings>) -> Result<Self, String> {
        let certs = match tls {
            Some(tls) => Some(Certs(match &tls.ca_file {
                Some(path) => Some(
                    std::fs::read(path)
                        .map_err(|e| format!("store.tls.ca_file {}: {e}", path.display()))?,
                ),
                None => None,
            })),
            None => None,
        };
        let urls: Vec<&String> = match &target {
            RedisTarget::Url(url) => vec![url],
            RedisTarget::Sentinel { urls, .. } | RedisTarget::Cluster { urls } => {
                urls.iter().collect()
            }
        };
        for url in urls {
            url.as_str()
                .into_connection_info()
                .map_err(|e| format!("redis url {}: {e}", redact(url)))?;
        }
        Ok(Connector { target, certs })
    }

    /// One attempt to connect, bounded by the connect and response timeouts.
    pub(super) async fn connect(&self) -> RedisResult<Conn> {
        match &self.target {
            RedisTarget::Url(url) => self.single(self.client(url.as_str())?).await,
            RedisTarget::Sentinel {
                master_name,
                urls,
                password,
            } => {
                let mut sentinel = Sentinel::build(urls.clone())?;
                let node = SentinelNodeConnectionInfo {
                    tls_mode: self.certs.as_ref().map(|_| TlsMode::Secure),
                    redis_connection_info: Some(redis::RedisConnectionInfo {
                        password: password.clone(),
                        ..Default::default()
                    }),
                };
                let found = tokio::time::timeout(
                    CONNECT_TIMEOUT * 2,
                    sentinel.async_master_for(master_name, Some(&node)),
                )
                .await
                .map_err(|_| timeout("sentinel did not name a master"))??;
                let info = found.get_connection_info().clone();
                let client = match &self.certs {
                    Some(certs) => Client::build_with_tls(info, certs.get())?,
                    None => found,
                };
                self.single(client).await
            }
            RedisTarget::Cluster { urls } => {
                let mut builder = ClusterClient::builder(urls.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(1);
                if let Some(certs) = &self.certs {
                    builder = builder.certs(certs.get());
                }
                let client = builder.build()?;
                tokio::time::timeout(CONNECT_TIMEOUT * 3, client.get_async_connection())
                    .await
                    .map_err(|_| timeout("no cluster node answered"))?
                    .map(Conn::Cluster)
            }
        }
    }

    fn client(&self, url: &str) -> RedisResult<Client> {
        match &self.certs {
            Some(certs) if is_tls(url) => Client::build_with_tls(url, certs.get()),
            _ => Client::open(url),
        }
    }

    async fn single(&self, client: Client) -> RedisResult<Conn> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Conn::Single(conn))
    }
}

fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://")
}

fn timeout(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::IoError, what))
}

/// A url with its password (if any) replaced by `***`, for messages.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_matches_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"123456789"), 0x31C3);
    }

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("redis://:pw@h:1"), "redis://***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
