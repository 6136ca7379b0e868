//! Per-event CPU cost of decode + evaluate, beside the bare parse of the same body as a
//! baseline measured in the same run.
//!
//! `cargo bench --bench engine`

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use alertgate::decode;
use alertgate::engine;
use alertgate::mapping;

// The allocator the `alertgate` binary runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn load(name: &str) -> mapping::Mapping {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings")
        .join(name);
    mapping::load_file(&file).unwrap_or_else(|e| panic!("{e:?}"))
}

fn bench_source(
    c: &mut Criterion,
    source: &str,
    mapping_file: &str,
    payload: &str,
    content_type: &str,
) {
    let mapping = load(mapping_file);
    let body = fixture(payload);
    let mut group = c.benchmark_group(source);
    // What the server does: decode what the mapping reads, then evaluate.
    group.bench_function("decode+evaluate", |b| {
        b.iter(|| {
            let payload = mapping
                .decode_body(black_box(&body), Some(content_type))
                .expect("decodes");
            engine::evaluate(&mapping, &payload).expect("evaluates")
        });
    });
    group.bench_function("decode only", |b| {
        b.iter(|| {
            mapping
                .decode_body(black_box(&body), Some(content_type))
                .expect("decodes")
        });
    });
    group.bench_function("decode whole payload", |b| {
        b.iter(|| {
            decode::decode(black_box(&body), Some(content_type), mapping.decode).expect("decodes")
        });
    });
    group.bench_function("baseline: serde parse only", |b| {
        b.iter(|| {
            if content_type == JSON {
                serde_json::from_slice::<serde_json::Value>(black_box(&body))
                    .map(|_| ())
                    .expect("json");
            } else {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(black_box(&body))
                    .map(|_| ())
                    .expect("form");
            }
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_source(
        c,
        "statuscake",
        "statuscake.yaml",
        "statuscake/down-basic.form",
        FORM,
    );
    bench_source(
        c,
        "statuspage-incident",
        "statuspage.yaml",
        "statuspage/incident-identified-critical.json",
        JSON,
    );
    bench_source(
        c,
        "statuspage-component",
        "statuspage.yaml",
        "statuspage/component-degraded-performance.json",
        JSON,
    );
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
