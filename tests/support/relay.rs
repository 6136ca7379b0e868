//! A TCP relay to a test's Redis (see `redis.rs`) that can be cut, as a network failure
//! would. Shared by the store and gateway test binaries (`#[path]`-included).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

pub struct Relay {
    pub addr: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Listens on `addr` (`127.0.0.1:0` for a fresh port) and relays every connection to
    /// `upstream` (a `TestRedis::addr()`).
    pub async fn start(addr: &str, upstream: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().expect("relay tasks").push(conn);
            }
        });
        tasks.lock().expect("relay tasks").push(accept);
        Relay { addr, tasks }
    }

    /// Drops every relayed connection and stops listening.
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("relay tasks").drain(..) {
            task.abort();
        }
    }
}
