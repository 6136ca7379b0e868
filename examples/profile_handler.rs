//! The whole request handler (routing, token, body, decode, evaluate, memory store, the
//! 202 body) in a loop without sockets, for instruction counts that machine load does not
//! disturb: `valgrind --tool=callgrind target/release/examples/profile_handler [n]`.
//! StatusCake DOWN then UP for 1 000 names, repeated; `config.example.yaml` as shipped.

use std::path::Path;

use alertgate::config::{self, Overrides};
use alertgate::server::{self, AppState};
use alertgate::store::{MemorySettings, MemoryStore, Store};
use bytes::Bytes;
use http_body_util::Full;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let snapshot = config::build_snapshot(Path::new("config.example.yaml"), &Overrides::default())
        .expect("the example config builds");
    let state = AppState::new(
        snapshot,
        Store::Memory(MemoryStore::new(MemorySettings::default())),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut accepted = 0usize;
    runtime.block_on(async {
        for i in 0..rounds {
            let status = if (i / 1_000) % 2 == 0 { "Down" } else { "Up" };
            let body = format!(
                "Token=x&Status={status}&StatusCode=500&Name=site-{}&URL=https%3A%2F%2Fexample.com%2F{}&IP=1.2.3.4&Tags=prod%2Cweb&CheckRate=300",
                i % 1_000,
                i % 1_000
            );
            let request = http::Request::post("/hooks/statuscake?token=demo-statuscake-token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-length", body.len())
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            let response = server::handle(&state, request).await;
            accepted += usize::from(response.status() == http::StatusCode::ACCEPTED);
        }
    });
    println!("{accepted} of {rounds} accepted");
}
