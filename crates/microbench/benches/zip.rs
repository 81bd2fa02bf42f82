//! The deterministic zip writer on a ~1 MiB executable-like input: what
//! `lambda-pack` does for every function at build time.
#![allow(missing_docs, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lambda_pack::archive::{DosTime, Entry, build_zip};
use microbench::fake_binary;

fn zip_writer(c: &mut Criterion) {
    let binary = fake_binary(1 << 20);
    let time = DosTime::from_unix(315_532_800);
    let mut group = c.benchmark_group("zip");
    group.throughput(Throughput::Bytes(binary.len() as u64));
    group.sample_size(20);
    group.bench_function("function_zip_1mib", |b| {
        b.iter(|| {
            build_zip(
                vec![Entry::File {
                    name: "bootstrap".into(),
                    data: binary.clone(),
                    executable: true,
                }],
                time,
            )
            .expect("zip")
        });
    });
    group.finish();
}

criterion_group!(benches, zip_writer);
criterion_main!(benches);
