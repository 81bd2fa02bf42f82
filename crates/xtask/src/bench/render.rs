//! docs/benchmarks.md: the comparison table first, then the details.

use std::fmt::Write as _;

use lambda_pack::spec::Kind;

use super::model::{MIB, QemuCheck, Report, proposed_budget, python_counterpart, targets};
use super::stats::Summary;

pub fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / MIB as f64)
}

pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn kib_as_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// How many times `python` is of `ours` ("37×"); "–" when not comparable.
pub fn ratio(python: f64, ours: f64) -> String {
    if ours <= 0.0 || python <= 0.0 || !python.is_finite() || !ours.is_finite() {
        return "–".into();
    }
    let r = python / ours;
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn spread(s: &Summary) -> String {
    format!(
        "{} | {} | {} | {} | {}",
        ms(s.median),
        ms(s.p10),
        ms(s.p90),
        ms(s.min),
        ms(s.max)
    )
}

/// The headline table: one row per function measured on both sides.
pub fn comparison_table(report: &Report) -> String {
    let mut out = String::new();
    let Some(py) = &report.python else {
        out.push_str("(no Python baseline in this run: `--skip-python` or `--quick`)\n");
        return out;
    };
    out.push_str("| function | zip: ours / Python | × | unzipped: ours / Python | × | cold start: ours / Python | × | peak RSS: ours / Python | × |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for m in report.measured.iter().filter(|m| m.kind == Kind::Function) {
        let counterpart = python_counterpart(&m.name);
        let Some(pf) = py.function(counterpart) else {
            continue;
        };
        let label = if counterpart == m.name {
            m.name.clone()
        } else {
            format!("{} (Python: {counterpart})", m.name)
        };
        let (py_zip, py_unzipped) = py.layers_size(&pf.deployed_layers);
        let size = report.sizes.iter().find(|s| s.name == m.name);
        let (zip, unzipped) = match size {
            Some(s) => (
                format!("{} / {}", mib(s.zip_bytes), mib(py_zip)),
                format!("{} / {}", mib(s.unzipped_bytes), mib(py_unzipped)),
            ),
            None => ("not in dist/".into(), "not in dist/".into()),
        };
        let zip_ratio = size.map_or("–".into(), |s| ratio(py_zip as f64, s.zip_bytes as f64));
        let unzipped_ratio = size.map_or("–".into(), |s| {
            ratio(py_unzipped as f64, s.unzipped_bytes as f64)
        });
        let (rss, rss_ratio) = match m.peak_rss_kib {
            Some(kib) => (
                format!("{} / {}", kib_as_mib(kib), kib_as_mib(pf.peak_rss_kib)),
                ratio(pf.peak_rss_kib as f64, kib as f64),
            ),
            None => (format!("? / {}", kib_as_mib(pf.peak_rss_kib)), "–".into()),
        };
        let _ = writeln!(
            out,
            "| {label} | {zip} | {zip_ratio} | {unzipped} | {unzipped_ratio} | {} / {} | {} | {rss} | {rss_ratio} |",
            ms(m.ready_ms.median),
            ms(pf.ready_ms.median),
            ratio(pf.ready_ms.median, m.ready_ms.median),
        );
    }
    if let Some(jwt) = report
        .micro
        .iter()
        .find(|r| r.id == "jwt/verify_rs256_cached_jwks")
    {
        let ours = 1e9 / jwt.median_ns;
        let _ = writeln!(
            out,
            "\nJWT verification (RS256, 2048-bit key, cached JWKS, Cognito access-token claims): \
             **{}/s** ours vs {}/s PyJWT: **{}**.",
            thousands(ours as u64),
            thousands(py.jwt_per_second as u64),
            ratio(ours, py.jwt_per_second)
        );
    }
    out
}

/// README.md's benchmark summary lies between these lines; `cargo xtask
/// bench` rewrites what is between them.
pub const README_START: &str = "<!-- bench:start: written by `cargo xtask bench`, do not edit -->";
/// See [`README_START`].
pub const README_END: &str = "<!-- bench:end -->";

/// The README's summary of a run: when and where it ran, the comparison
/// table, how many targets were met, and the chart (`docs` is the path from
/// the README to benchmarks.md and benchmarks.svg).
pub fn readme_section(report: &Report, docs: &str) -> String {
    let h = &report.host;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {} on {} ({}, {} cores), {}, by `cargo xtask bench`; \
         every number and how it is taken: [{docs}/benchmarks.md]({docs}/benchmarks.md).\n",
        h.date, h.arch, h.cpu_model, h.cores, h.rustc
    );
    out.push_str(&comparison_table(report));
    let lines = targets(report);
    let missed: Vec<&str> = lines
        .iter()
        .filter(|l| !l.met)
        .map(|l| l.target.as_str())
        .collect();
    let _ = write!(
        out,
        "\nTargets met: {} of {}",
        lines.len() - missed.len(),
        lines.len()
    );
    if missed.is_empty() {
        out.push_str(".\n");
    } else {
        let _ = writeln!(out, "; missed: {}.", missed.join("; "));
    }
    let _ = writeln!(
        out,
        "\n![Sizes and cold starts, ours next to Python]({docs}/benchmarks.svg)"
    );
    out
}

/// `text` with what lies between the lines `start` and `end` replaced by
/// `section`; `None` when either marker is missing or they are out of order.
pub fn splice_between(text: &str, start: &str, end: &str, section: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(format!(
        "{}\n{}\n{}",
        &text[..from],
        section.trim_end(),
        &text[to..]
    ))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let h = &report.host;
    out.push_str("# Benchmarks\n\n");
    let python = report
        .python
        .as_ref()
        .map(|p| format!("; Python {}", p.version))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Measured {} by `cargo xtask bench{}` on {} ({}, {} cores); {}{python}. \
         The machine is shared and noisy: the ratios are the result, not the absolute times.\n",
        h.date,
        if report.quick { " --quick" } else { "" },
        h.arch,
        h.cpu_model,
        h.cores,
        h.rustc
    );
    out.push_str("## Rust against the Python stack it replaces\n\n");
    out.push_str(&comparison_table(report));
    out.push_str(
        "\n× is Python ÷ ours: how many times smaller, faster to start or leaner ours is.\n\
         - Sizes, ours: the function zip from `dist/manifest.json` (aarch64). Python: the shared \
           dependency layer every function attached (arm64, Python 3.11, built by \
           `bench/python/baseline.py`), the handler's own code not counted; the split layers are below.\n\
         - Cold start, ours: exec of the host build's `bootstrap` to its first \
           `GET /runtime/invocation/next` on the Runtime API emulator (median). Python: spawn of a \
           fresh interpreter to the function's imports done and clients created, the seed's init \
           (Lambda's own runtime start-up is not included on either side).\n\
         - Peak RSS, ours: `VmHWM` after the warm invocations below. Python: `VmHWM` right after \
           init, before any invocation (favours Python).\n\n",
    );
    out.push_str("![Sizes and cold starts, ours next to Python](benchmarks.svg)\n\n");

    out.push_str("## Targets\n\n");
    out.push_str("| target | measured | met | over by | what dominates |\n| --- | ---: | :---: | ---: | --- |\n");
    for line in targets(report) {
        let finding = report
            .findings
            .iter()
            .find(|(key, _)| *key == line.key)
            .map(|(_, text)| text.as_str())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            line.target,
            line.measured,
            if line.met { "yes" } else { "**no**" },
            line.over_by.as_deref().unwrap_or(""),
            finding
        );
    }

    if !report.measured.is_empty() {
        let starts = report.measured.first().map_or(0, |m| m.ready_ms.n);
        let _ = writeln!(
            out,
            "\n## Cold starts (native host build, {starts} fresh processes each)\n\n\
             Ready: spawn to the first `/invocation/next` (extensions: to the end of registration, \
             their first `/extension/event/next`). First response: spawn to the answer to the first \
             event, queued before the spawn.\n"
        );
        out.push_str("| artifact | ready median | p10 | p90 | min | max | first response median | first response p90 |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for m in &report.measured {
            let (first, first_p90) = m
                .first_response_ms
                .map_or(("–".into(), "–".into()), |s| (ms(s.median), ms(s.p90)));
            let _ = writeln!(
                out,
                "| {} | {} | {first} | {first_p90} |",
                m.name,
                spread(&m.ready_ms)
            );
        }
        out.push_str("\n## Warm invocations and memory\n\n");
        out.push_str("| artifact | invocations | p50 | p99 | error answers | peak RSS |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for m in &report.measured {
            let rss = m.peak_rss_kib.map_or("–".into(), kib_as_mib);
            match &m.warm_ms {
                Some(w) => {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {rss} |",
                        m.name,
                        thousands(w.n as u64),
                        ms(w.median),
                        ms(w.p99),
                        m.warm_errors
                    );
                }
                None => {
                    let _ = writeln!(out, "| {} (after init) | – | – | – | – | {rss} |", m.name);
                }
            }
        }
        out.push_str(
            "\nWarm invocations cycle through the function's smoke.json events (against moto and \
             loopback fakes where the function needs AWS or HTTP services, so those times include \
             moto's); error answers are the cases that test refusals.\n",
        );
    }

    out.push_str("\n## Sizes (aarch64 `dist/manifest.json`) against budgets\n\n");
    out.push_str("| artifact | kind | zip | zip budget | headroom | unzipped | unzipped budget | proposed zip budget | proposed unzipped budget |\n");
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for s in &report.sizes {
        let headroom = if s.budget_zip > 0 {
            format!(
                "{:.0}%",
                (1.0 - s.zip_bytes as f64 / s.budget_zip as f64) * 100.0
            )
        } else {
            "–".into()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {headroom} | {} | {} | {} | {} |",
            s.name,
            match s.kind {
                Kind::Function => "function",
                Kind::Extension => "extension layer",
            },
            thousands(s.zip_bytes),
            thousands(s.budget_zip),
            thousands(s.unzipped_bytes),
            thousands(s.budget_unzipped),
            thousands(proposed_budget(s.zip_bytes)),
            thousands(proposed_budget(s.unzipped_bytes)),
        );
    }
    let total: u64 = report.sizes.iter().map(|s| s.zip_bytes).sum();
    let total_unzipped: u64 = report.sizes.iter().map(|s| s.unzipped_bytes).sum();
    let _ = writeln!(
        out,
        "| **all** | | **{}** | | | **{}** | | | |\n\n(bytes; proposed budget: measured + 5%, rounded up to 4 KiB.)",
        thousands(total),
        thousands(total_unzipped)
    );

    if let Some(py) = &report.python {
        out.push_str("\n## Python layers (arm64, Python 3.11, `pip install --platform manylinux2014_aarch64`)\n\n");
        out.push_str(
            "| layer | packages | zip | unzipped | files |\n| --- | --- | ---: | ---: | ---: |\n",
        );
        for l in &py.layers {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                l.name,
                l.packages.join(", "),
                thousands(l.zip_bytes),
                thousands(l.unzipped_bytes),
                thousands(l.files)
            );
        }
        out.push_str("\nWith the planned split, each function attaches only its layers:\n\n");
        out.push_str("| function | split layers | zip | unzipped | ours (zip) | × |\n| --- | --- | ---: | ---: | ---: | ---: |\n");
        for f in py.functions.iter().filter(|f| !f.name.starts_with('(')) {
            let (zip, unzipped) = py.layers_size(&f.split_layers);
            let ours = report.sizes.iter().find(|s| s.name == f.name);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                f.name,
                if f.split_layers.is_empty() {
                    "none (boto3 comes with the runtime)".to_owned()
                } else {
                    f.split_layers.join(" + ")
                },
                thousands(zip),
                thousands(unzipped),
                ours.map_or("–".into(), |s| thousands(s.zip_bytes)),
                ours.map_or("–".into(), |s| ratio(zip as f64, s.zip_bytes as f64)),
            );
        }
        out.push_str("\nPython cold-start baseline (fresh interpreter per run):\n\n");
        out.push_str("| function | init | spawn to ready median | p10 | p90 | imports + clients (in process) | peak RSS |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for f in &py.functions {
            let init = if f.init.is_empty() {
                "nothing".to_owned()
            } else {
                format!("`{}`", f.init.join("; "))
            };
            let _ = writeln!(
                out,
                "| {} | {init} | {} | {} | {} | {} | {} |",
                f.name,
                ms(f.ready_ms.median),
                ms(f.ready_ms.p10),
                ms(f.ready_ms.p90),
                ms(f.import_ms.median),
                kib_as_mib(f.peak_rss_kib)
            );
        }
        if !py.packages.is_empty() {
            let versions: Vec<String> = py
                .packages
                .iter()
                .map(|(name, version)| format!("{name} {version}"))
                .collect();
            let _ = writeln!(out, "\nVersions: {}.", versions.join(", "));
        }
    }

    if !report.micro.is_empty() {
        out.push_str(
            "\n## Micro-benchmarks (criterion, `cargo bench -p microbench`, release profile)\n\n",
        );
        out.push_str("| benchmark | median time | per second |\n| --- | ---: | ---: |\n");
        for r in &report.micro {
            let time = if r.median_ns >= 1e6 {
                format!("{:.2} ms", r.median_ns / 1e6)
            } else if r.median_ns >= 1e3 {
                format!("{:.2} µs", r.median_ns / 1e3)
            } else {
                format!("{:.0} ns", r.median_ns)
            };
            let _ = writeln!(
                out,
                "| {} | {time} | {} |",
                r.id,
                thousands((1e9 / r.median_ns) as u64)
            );
        }
    }

    let qemu: Vec<_> = report
        .measured
        .iter()
        .filter(|m| !matches!(m.qemu, QemuCheck::NotRun(_)))
        .collect();
    out.push_str("\n## aarch64 under qemu (correctness only, not timed)\n\n");
    if qemu.is_empty() {
        let why = report
            .measured
            .iter()
            .find_map(|m| match &m.qemu {
                QemuCheck::NotRun(why) => Some(why.as_str()),
                _ => None,
            })
            .unwrap_or("nothing measured");
        let _ = writeln!(out, "Not run: {why}.");
    } else {
        out.push_str("| artifact | result |\n| --- | --- |\n");
        for m in qemu {
            let result = match &m.qemu {
                QemuCheck::Passed { cases } => format!("passed ({cases} smoke cases)"),
                QemuCheck::Failed(why) => {
                    format!("**failed**: {}", why.lines().next().unwrap_or(""))
                }
                QemuCheck::NotRun(why) => format!("not run: {why}"),
            };
            let _ = writeln!(out, "| {} | {result} |", m.name);
        }
    }

    if !report.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out.push_str(
        "\n## Reproduce\n\n```sh\ncargo xtask setup      # zig/cargo-zigbuild, qemu, moto\ncargo xtask bench      # builds dist/ (aarch64) and a host build: ~30 min on 2 cores from cold, ~10 min warm\n\
         cargo xtask bench --no-build --skip-python   # reuse the builds, Rust side only\n```\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::TargetLine;
    use crate::bench::model::tests::report;

    #[test]
    fn ratios_are_python_over_ours_with_sensible_precision() {
        assert_eq!(ratio(24_623_407.0, 670_924.0), "37×");
        assert_eq!(ratio(3.0, 2.0), "1.5×");
        assert_eq!(ratio(1.0, 0.0), "–");
    }

    fn splice_readme(readme: &str, section: &str) -> Option<String> {
        splice_between(readme, README_START, README_END, section)
    }

    #[test]
    fn the_readme_section_replaces_only_what_lies_between_the_markers() {
        let readme = format!("# Title\n\n{README_START}\nold numbers\n{README_END}\n\n## Next\n");
        let section = readme_section(&report(), "docs");
        let first = section.lines().next().unwrap();
        assert!(!first.contains("  "), "{first}");
        let spliced = splice_readme(&readme, &section).unwrap();
        assert!(spliced.starts_with(&format!("# Title\n\n{README_START}\nMeasured ")));
        assert!(spliced.ends_with(&format!("{README_END}\n\n## Next\n")));
        assert!(!spliced.contains("old numbers"));
        assert!(spliced.contains("| cors | 0.64 MiB / 23.48 MiB | 37× |"));
        assert!(spliced.contains("](docs/benchmarks.svg)"));
        assert!(spliced.contains("[docs/benchmarks.md](docs/benchmarks.md)"));
        // Splicing again gives the same text: nothing accumulates.
        assert_eq!(splice_readme(&spliced, &section).unwrap(), spliced);
        assert_eq!(splice_readme("# no markers\n", &section), None);
        assert_eq!(
            splice_readme(&format!("{README_END}\n{README_START}\n"), &section),
            None
        );
    }

    #[test]
    fn the_readme_section_names_the_missed_targets() {
        let section = readme_section(&report(), "docs");
        let lines = targets(&report());
        let missed: Vec<&TargetLine> = lines.iter().filter(|l| !l.met).collect();
        let count = format!(
            "Targets met: {} of {}",
            lines.len() - missed.len(),
            lines.len()
        );
        assert!(section.contains(&count), "{section}");
        for line in missed {
            assert!(section.contains(&line.target), "{section}");
        }
    }

    #[test]
    fn the_sms_worker_row_compares_with_the_python_sms_function() {
        let mut r = report();
        let py = crate::bench::model::tests::PYTHON_JSON
            .replace(r#""cors": {"deployed""#, r#""sms": {"deployed""#)
            .replace(r#""cors": {"init""#, r#""sms": {"init""#);
        r.python = Some(crate::bench::model::PythonBaseline::parse(&py).unwrap());
        for name in ["sms", "sms-worker"] {
            let mut measured = r.measured[0].clone();
            measured.name = name.into();
            r.measured.push(measured);
            let mut size = r.sizes[0].clone();
            size.name = name.into();
            r.sizes.push(size);
        }
        let table = comparison_table(&r);
        assert!(
            table.contains("| sms | 0.64 MiB / 23.48 MiB | 37× |"),
            "{table}"
        );
        assert!(
            table.contains("| sms-worker (Python: sms) | 0.64 MiB / 23.48 MiB | 37× |"),
            "{table}"
        );
        assert!(
            !table.contains("| cors"),
            "cors has no Python counterpart now"
        );
        let lines = targets(&r);
        for name in ["sms", "sms-worker"] {
            let line = lines
                .iter()
                .find(|l| l.key == format!("{name} zip"))
                .unwrap();
            assert!(line.met && line.measured == "0.64 MiB", "{name}");
        }
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(24_623_407), "24,623,407");
    }

    #[test]
    fn the_comparison_table_has_one_row_per_function_on_both_sides() {
        let table = comparison_table(&report());
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| cors")).collect();
        assert_eq!(
            rows,
            [
                "| cors | 0.64 MiB / 23.48 MiB | 37× | 1.24 MiB / 93.55 MiB | 76× | 2.00 ms / 21.0 ms | 10× | 4.0 MiB / 8.9 MiB | 2.2× |"
            ]
        );
        assert!(
            !table.contains("| users"),
            "users has no Python measurement in the fixture"
        );
        assert!(
            table.contains("**32,258/s** ours vs 10,000/s PyJWT: **3.2×**"),
            "{table}"
        );
    }

    #[test]
    fn the_document_names_host_targets_budgets_and_qemu_results() {
        let doc = render(&report());
        assert!(doc.contains("Measured 2026-11-28 08:30 UTC by `cargo xtask bench` on x86_64 (Test CPU, 2 cores); rustc 1.95.0; Python 3.11.7."), "{doc}");
        assert!(doc.contains("| users: cold start to ready <= 15 ms (native median) | 20.00 ms | **no** | 5.00 ms (33%) | aws-sdk init dominates |"), "{doc}");
        assert!(
            doc.contains(
                "| cors | function | 670,924 | 2,097,152 | 68% | 1,298,096 | 6,291,456 | 704,512 |"
            ),
            "{doc}"
        );
        assert!(
            doc.contains("| users | **failed**: case x failed |"),
            "{doc}"
        );
        assert!(
            doc.contains("| telemetry (after init) | – | – | – | – | 2.9 MiB |"),
            "{doc}"
        );
        assert!(doc.contains("![Sizes and cold starts, ours next to Python](benchmarks.svg)"));
        assert!(
            doc.contains("| jwt/verify_rs256_cached_jwks | 31.00 µs | 32,258 |"),
            "{doc}"
        );
        assert!(doc.contains("- a note"));
    }

    #[test]
    fn without_python_the_table_says_why() {
        let mut r = report();
        r.python = None;
        assert!(comparison_table(&r).contains("no Python baseline"));
    }
}
