//! `bench`: cold starts, warm latency, peak memory, micro-benchmarks and
//! sizes of every artifact, side by side with the Python stack the project
//! replaces; writes docs/benchmarks.md and docs/benchmarks.svg.
//!
//! Native timings use a host-target build (`dist --target host`), because
//! aarch64 binaries under qemu on an x86_64 host say nothing about speed;
//! those only get a correctness check. Sizes come from the aarch64 dist, what
//! is deployed.

pub mod host;
pub mod model;
pub mod render;
pub mod stats;
pub mod svg;
pub mod variants;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use lambda_emulator::bench::{BenchOptions, BenchReport, run_bench};
use lambda_emulator::{SmokeOptions, run_smoke};
use lambda_pack::manifest::{self, Manifest};
use lambda_pack::spec::Kind;
use serde_json::Value;

use crate::cli::{BenchArgs, BuildTarget};
use crate::dist;
use crate::prereq;
use crate::smoke::{self, SmokeRun};
use crate::workspace::Workspace;
use host::HostInfo;
use model::{Measured, MicroResult, PythonBaseline, QemuCheck, Report, SizeRow};
use stats::summarize;

/// Every start and invocation may take this long (moto answers in seconds
/// when it is busy; qemu is slow).
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace's micro-benchmark crate.
const MICROBENCH_PACKAGE: &str = "microbench";

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Builds (unless `--no-build`) the dist directory for `target` at `dir`.
fn ensure_dist(
    ws: &Workspace,
    target: &BuildTarget,
    dir: &Path,
    args: &BenchArgs,
    always_build: bool,
) -> anyhow::Result<Manifest> {
    let manifest_path = dir.join(manifest::FILE_NAME);
    let present = manifest_path.is_file();
    if args.no_build && !present {
        let target_flag = match target {
            BuildTarget::Host => "host".to_owned(),
            BuildTarget::Triple(triple) => triple.clone(),
        };
        bail!(
            "{} is missing; build it with `cargo xtask dist --target {target_flag} --out {}` \
             or run `cargo xtask bench` without --no-build",
            manifest_path.display(),
            dir.display()
        );
    }
    if !args.no_build && (always_build || !present) {
        prereq::require(&prereq::for_dist(target))?;
        dist::dist(ws, &ws.root, target, dir, &args.only)?;
    }
    Ok(Manifest::read(&manifest_path)?)
}

/// The runs of the artifacts named in `only` and of the layers they attach
/// (all runs when `only` is empty), as `dist --only` selects them.
fn selected(
    runs: Vec<SmokeRun>,
    set: &lambda_pack::spec::ArtifactSet,
    only: &[String],
) -> anyhow::Result<Vec<SmokeRun>> {
    let chosen = dist::select(set, only)?;
    Ok(runs
        .into_iter()
        .filter(|r| chosen.get(&r.name).is_some())
        .collect())
}

fn measured_from(run: &SmokeRun, report: &BenchReport) -> anyhow::Result<Measured> {
    let ready: Vec<f64> = report.starts.iter().map(|s| millis(s.ready)).collect();
    let first: Vec<f64> = report
        .starts
        .iter()
        .filter_map(|s| s.first_response.map(millis))
        .collect();
    let warm: Vec<f64> = report.warm.iter().copied().map(millis).collect();
    Ok(Measured {
        name: run.name.clone(),
        kind: run.kind,
        ready_ms: summarize(&ready).context("no start was measured")?,
        first_response_ms: summarize(&first),
        warm_ms: summarize(&warm),
        warm_errors: report.warm_errors,
        peak_rss_kib: report.peak_rss_kib,
        qemu: QemuCheck::NotRun("not requested".into()),
    })
}

/// The steps a function logged during init with a duration (`*_ms` or
/// `duration*` numeric fields), slowest first. Lines logged inside an
/// invocation (their span has a `requestId`) are not init.
pub fn logged_init_steps(log: &str) -> Vec<(String, f64)> {
    let mut steps: Vec<(String, f64)> = log
        .lines()
        .filter_map(|line| {
            let json = &line[line.find('{')?..];
            serde_json::from_str::<Value>(json).ok()
        })
        .filter(|v| v.pointer("/span/requestId").is_none())
        .flat_map(|v| {
            let message = v
                .pointer("/fields/message")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let fields = v.get("fields").cloned().unwrap_or(v);
            fields
                .as_object()
                .map(|map| {
                    map.iter()
                        .filter(|(k, _)| k.ends_with("_ms") || k.starts_with("duration"))
                        .filter_map(|(k, value)| {
                            Some((format!("{message} ({k})"), value.as_f64()?))
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    steps.sort_by(|a, b| b.1.total_cmp(&a.1));
    steps
}

/// The share of the `.text` section each crate takes, largest first, as
/// `cargo bloat --crates --message-format json` reports it.
pub fn bloat_summary(json: &str, top: usize) -> anyhow::Result<String> {
    let value: Value = serde_json::from_str(json).context("cargo bloat's output is not JSON")?;
    let text = value["text-section-size"]
        .as_u64()
        .filter(|t| *t > 0)
        .context("cargo bloat's output has no text-section-size")?;
    let crates = value["crates"]
        .as_array()
        .context("cargo bloat's output has no crates")?;
    let parts: Vec<String> = crates
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?, c["size"].as_u64()?)))
        .take(top)
        .map(|(name, size)| format!("{name} {:.0}%", size as f64 * 100.0 / text as f64))
        .collect();
    Ok(format!(
        "{} of {} of code (cargo bloat, host build)",
        parts.join(", "),
        render::mib(text)
    ))
}

/// Runs cargo-bloat (when installed) on the artifacts behind missed size
/// targets: sms and the largest artifact. Builds in its own target
/// directory, because cargo-bloat needs unstripped binaries.
fn size_breakdown(ws: &Workspace, report: &Report) -> Vec<(String, String)> {
    let missed: Vec<String> = model::targets(report)
        .into_iter()
        .filter(|l| !l.met && !l.measured.contains("not in dist"))
        .map(|l| l.key)
        .collect();
    let mut names: Vec<String> = missed
        .iter()
        .filter_map(|k| model::sms_zip_target(k))
        .map(str::to_owned)
        .collect();
    if missed.iter().any(|k| {
        model::sms_zip_target(k).is_none()
            && !k.starts_with("cold start ")
            && !k.starts_with("peak rss ")
    }) && let Some(largest) = report.sizes.iter().max_by_key(|s| s.zip_bytes)
        && !names.contains(&largest.name)
    {
        names.push(largest.name.clone());
    }
    if names.is_empty() || !crate::run::on_path("cargo-bloat") {
        return Vec::new();
    }
    let Ok(set) = ws.artifacts() else {
        return Vec::new();
    };
    let env = dist::BuildEnv::from_workspace(ws);
    let mut out = Vec::new();
    for name in names {
        let Some(artifact) = set.get(&name) else {
            continue;
        };
        let mut cargo = Command::new(&ws.cargo);
        cargo
            .current_dir(&ws.root)
            .args(["bloat", "--release", "--locked", "-p", &artifact.package])
            .args(["--bin", &artifact.binary])
            .args(["--crates", "-n", "8", "--message-format", "json"])
            .env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1")
            .env("SOURCE_DATE_EPOCH", &env.source_date_epoch)
            .env("CARGO_TARGET_DIR", ws.target_dir.join("bench/bloat"));
        eprintln!("$ {}", crate::run::describe(&cargo));
        let summary = cargo
            .output()
            .context("starting cargo bloat")
            .and_then(|output| {
                if !output.status.success() {
                    bail!(
                        "cargo bloat failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                let json = stdout.lines().rfind(|l| l.starts_with('{')).unwrap_or("");
                bloat_summary(json, 6)
            });
        match summary {
            Ok(text) => {
                eprintln!("bench {name}: {text}");
                out.push((name, text));
            }
            Err(err) => eprintln!("bench {name}: no size breakdown: {err:#}"),
        }
    }
    out
}

/// An artifact's name and the captured output of its last process.
type Log = (String, String);

fn native(
    ws: &Workspace,
    runtime: &tokio::runtime::Runtime,
    host_dist: &Path,
    manifest: &Manifest,
    args: &BenchArgs,
    starts: usize,
    invocations: usize,
) -> anyhow::Result<(Vec<Measured>, Vec<Log>)> {
    let set = ws.artifacts()?;
    let runs = selected(
        smoke::plan(manifest, &set, &ws.root, host_dist, Path::is_file)?,
        &set,
        &args.only,
    )?;
    let mut measured = Vec::new();
    let mut logs = Vec::new();
    for run in &runs {
        let mut options = BenchOptions::new(&run.zip, &run.cases);
        options.starts = starts;
        options.invocations = invocations;
        options.timeout = PHASE_TIMEOUT;
        options.memory_mb = run.memory_mb;
        eprintln!(
            "bench {}: {starts} cold starts{}",
            run.name,
            if run.kind == Kind::Function {
                format!(", then {invocations} warm invocations")
            } else {
                String::new()
            }
        );
        let name = run.name.clone();
        let mut last_line = 0usize;
        let report = runtime
            .block_on(run_bench(&options, |message| {
                // One line per start is noise; print the first, the last and
                // the summary lines.
                last_line += 1;
                if last_line == 1 || last_line >= starts {
                    eprintln!("bench {name}: {message}");
                }
            }))
            .with_context(|| format!("benchmark of {} failed", run.name))?;
        let m = measured_from(run, &report)?;
        eprintln!(
            "bench {}: ready median {:.2} ms, peak RSS {}",
            run.name,
            m.ready_ms.median,
            m.peak_rss_kib
                .map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
        );
        logs.push((run.name.clone(), report.last_log.clone()));
        measured.push(m);
    }
    Ok((measured, logs))
}

fn qemu_checks(
    ws: &Workspace,
    runtime: &tokio::runtime::Runtime,
    dist: &Path,
    manifest: &Manifest,
    only: &[String],
) -> anyhow::Result<Vec<(String, QemuCheck)>> {
    let set = ws.artifacts()?;
    let runs = selected(
        smoke::plan(manifest, &set, &ws.root, dist, Path::is_file)?,
        &set,
        only,
    )?;
    let machine = ws.default_machine()?;
    let Some(runner) = prereq::qemu_runner(machine) else {
        prereq::require(&prereq::for_smoke(machine))?;
        bail!("no qemu for {}", machine.name());
    };
    let mut results = Vec::new();
    for run in &runs {
        let mut options = SmokeOptions::new(&run.zip, &run.cases);
        options.timeout = PHASE_TIMEOUT;
        options.memory_mb = run.memory_mb;
        options.runner = vec![runner.clone()];
        let outcome = runtime.block_on(run_smoke(&options, |_| {}));
        let check = match outcome {
            Ok(report) => QemuCheck::Passed {
                cases: report.cases.len(),
            },
            Err(error) => QemuCheck::Failed(error.to_string()),
        };
        eprintln!(
            "bench {}: under {runner}: {}",
            run.name,
            match &check {
                QemuCheck::Passed { cases } => format!("{cases} cases passed"),
                QemuCheck::Failed(why) => format!("FAILED: {}", why.lines().next().unwrap_or("")),
                QemuCheck::NotRun(_) => String::new(),
            }
        );
        results.push((run.name.clone(), check));
    }
    Ok(results)
}

/// Runs the criterion benches with the release builds' environment (same
/// rustflags and aws-lc settings, so the dependencies `dist` compiled are
/// reused instead of rebuilt), then reads every estimate written since `since`.
fn micro(ws: &Workspace) -> anyhow::Result<Vec<MicroResult>> {
    let since = SystemTime::now();
    let env = dist::BuildEnv::from_workspace(ws);
    let mut cargo = Command::new(&ws.cargo);
    cargo
        .current_dir(&ws.root)
        .args(["bench", "--locked", "-p", MICROBENCH_PACKAGE, "--benches"])
        .env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1")
        .env("SOURCE_DATE_EPOCH", &env.source_date_epoch)
        .env("CARGO_TARGET_DIR", &env.target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            dist::rustflags(&BuildTarget::Host, &env).join("\x1f"),
        )
        .env_remove("RUSTFLAGS");
    crate::run::run(&mut cargo)?;
    read_criterion(&ws.target_dir.join("criterion"), since)
}

/// `<dir>/<group>/<bench>/new/estimates.json` files newer than `since`.
pub fn read_criterion(dir: &Path, since: SystemTime) -> anyhow::Result<Vec<MicroResult>> {
    let mut results = Vec::new();
    let groups = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for group in groups.filter_map(Result::ok) {
        let Ok(benches) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for bench in benches.filter_map(Result::ok) {
            let path = bench.path().join("new/estimates.json");
            let fresh = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            results.push(MicroResult {
                id: format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    bench.file_name().to_string_lossy()
                ),
                median_ns: model::criterion_median_ns(&text)
                    .with_context(|| path.display().to_string())?,
            });
        }
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(results)
}

fn python(ws: &Workspace, runs: usize) -> anyhow::Result<PythonBaseline> {
    let script = ws.root.join("bench/python/baseline.py");
    let out = ws.target_dir.join("bench/python.json");
    let cache = ws.target_dir.join("bench-python");
    let mut command = Command::new("python3");
    command
        .current_dir(&ws.root)
        .arg(&script)
        .arg("--cache")
        .arg(&cache)
        .arg("--out")
        .arg(&out)
        .arg("--runs")
        .arg(runs.to_string());
    let line = crate::run::describe(&command);
    eprintln!("$ {line}");
    let status = command.status().with_context(|| {
        "cannot start python3: install Python 3.11 (apt-get install python3 python3-venv) \
         or skip the baseline with `cargo xtask bench --skip-python`"
    })?;
    match status.code() {
        Some(0) => {}
        Some(3) => bail!(
            "the Python baseline could not install its packages from PyPI (see above); \
             rerun with network access or skip it with `cargo xtask bench --skip-python`"
        ),
        _ => bail!("`{line}` failed ({status}); skip it with `cargo xtask bench --skip-python`"),
    }
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    PythonBaseline::parse(&text).with_context(|| format!("reading {}", out.display()))
}

/// What dominates each missed target, so the next step is obvious; `bloat`
/// holds [`bloat_summary`]'s text per artifact.
fn findings(report: &Report, logs: &[Log], bloat: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in model::targets(report).iter().filter(|l| !l.met) {
        let text = if let Some(name) = line.key.strip_prefix("cold start ") {
            let m = report.measured.iter().find(|m| m.name == name);
            let steps = logs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, log)| logged_init_steps(log))
                .unwrap_or_default();
            let mut text = if steps.is_empty() {
                "the init logs no step durations; profile with `strace -r` or \
                 `perf record` on the host build"
                    .to_owned()
            } else {
                let listed: Vec<String> = steps
                    .iter()
                    .take(3)
                    .map(|(step, ms)| format!("{step} {ms:.1} ms"))
                    .collect();
                format!("init steps logged, slowest first: {}", listed.join(", "))
            };
            if let Some(first) = m.and_then(|m| m.first_response_ms) {
                text.push_str(&format!("; first response at {:.1} ms", first.median));
            }
            text
        } else if line.key.starts_with("peak rss ") {
            "peak after the warm invocations; compare with the RSS right after init \
             (`--invocations 1`) to tell init from growth"
                .to_owned()
        } else if let Some(name) = model::sms_zip_target(&line.key)
            && line.measured.contains("not in dist")
        {
            format!("{name} is not built yet")
        } else {
            let mut largest: Vec<&SizeRow> = report.sizes.iter().collect();
            largest.sort_by_key(|s| std::cmp::Reverse(s.zip_bytes));
            let names: Vec<String> = largest
                .iter()
                .take(3)
                .map(|s| format!("{} {}", s.name, render::mib(s.zip_bytes)))
                .collect();
            // The artifact the target names, else the largest one.
            let inside = model::sms_zip_target(&line.key)
                .or_else(|| largest.first().map(|s| s.name.as_str()));
            let crates = inside
                .and_then(|name| bloat.iter().find(|(n, _)| n == name))
                .map(|(name, text)| format!("; {name}'s code by crate: {text}"))
                .unwrap_or_else(|| {
                    "; install cargo-bloat (`cargo install --locked cargo-bloat`) to see the \
                     crates inside"
                        .to_owned()
                });
            format!(
                "largest: {}{crates}; what the measured variants (ring, `opt-level = \"z\"`, \
                 `panic = \"abort\"`) would save, with their cold starts: \
                 `cargo xtask bench --variants all` (docs/benchmarks-variants.md)",
                names.join(", ")
            )
        };
        out.push((line.key.clone(), text));
    }
    out
}

/// Cold starts and warm invocations per measurement: `--starts` and
/// `--invocations`, else 20 and 1000 (3 and 20 with `--quick`).
fn counts(args: &BenchArgs) -> (usize, usize) {
    let starts = args.starts.unwrap_or(if args.quick { 3 } else { 20 });
    let invocations = args
        .invocations
        .unwrap_or(if args.quick { 20 } else { 1000 });
    (starts, invocations)
}

/// Where the report goes: `--out`, else docs/ (target/bench/quick with
/// `--quick`).
fn out_dir(ws: &Workspace, args: &BenchArgs) -> PathBuf {
    match &args.out {
        Some(out) => ws.resolve(out),
        None if args.quick => ws.target_dir.join("bench/quick"),
        None => ws.root.join("docs"),
    }
}

/// Replaces the lines between `start` and `end` in the README at `path`
/// with `section`; an error naming the markers when they are missing.
fn splice_readme_file(
    path: &Path,
    start: &str,
    end: &str,
    section: &str,
    what: &str,
) -> anyhow::Result<()> {
    let readme =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let spliced = render::splice_between(&readme, start, end, section).with_context(|| {
        format!(
            "{} has no {what} section: put the lines `{start}` and `{end}` where it goes",
            path.display()
        )
    })?;
    std::fs::write(path, spliced).with_context(|| format!("writing {}", path.display()))
}

/// `bench --variants`: builds each chosen variant of [`variants::VARIANTS`]
/// (aarch64 for sizes, host for times), measures them like the main report
/// and writes the variants table.
fn bench_variants(ws: &Workspace, args: &BenchArgs, list: &[String]) -> anyhow::Result<()> {
    let chosen = variants::parse(list)?;
    let (starts, invocations) = counts(args);
    let only: Vec<String> = if args.only.is_empty() {
        variants::DEFAULT_ARTIFACTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        args.only.clone()
    };
    let set = ws.artifacts()?;
    dist::select(&set, &only)?;
    let target = ws.default_target()?;
    let BuildTarget::Triple(triple) = &target else {
        bail!("the workspace declares no target triple to measure sizes for");
    };
    let ring_copy = ws.target_dir.join("bench/variants/ring-workspace");

    if !args.no_build {
        prereq::require(&prereq::for_dist(&target))?;
        prereq::require(&prereq::for_dist(&BuildTarget::Host))?;
        if chosen.iter().any(|v| v.ring) {
            variants::prepare_ring_copy(&ws.cargo, &ws.root, &ring_copy)?;
            for name in &only {
                let package = &set.get(name).context("artifact vanished")?.package;
                variants::require_ring_only(&ws.cargo, &ring_copy, triple, package)?;
            }
        }
        for variant in &chosen {
            let root = if variant.ring { &ring_copy } else { &ws.root };
            let overrides = dist::Overrides {
                target_dir: Some(variants::target_dir(variant, &ws.target_dir)),
                env: variant
                    .profile
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            };
            let (dist_dir, host_dir) = variants::dist_dirs(&ws.target_dir, variant);
            eprintln!("bench --variants: building {}", variant.key);
            dist::dist_with(ws, root, &target, &dist_dir, &only, &overrides)?;
            dist::dist_with(ws, root, &BuildTarget::Host, &host_dir, &only, &overrides)?;
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let measure_args = BenchArgs {
        only: only.clone(),
        ..args.clone()
    };
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 5 });
    // Every round measures every variant, so that a slow spell of the
    // machine does not land on one variant only.
    let host_dists = chosen
        .iter()
        .map(|variant| {
            let (_, host_dir) = variants::dist_dirs(&ws.target_dir, variant);
            let manifest = variants::read_manifest(&host_dir, variant)?;
            Ok((host_dir, manifest))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut per_variant: Vec<Vec<Measured>> = vec![Vec::new(); chosen.len()];
    for round in 1..=rounds {
        for ((variant, (host_dir, host_manifest)), measured) in
            chosen.iter().zip(&host_dists).zip(&mut per_variant)
        {
            eprintln!(
                "bench --variants: measuring {}, round {round} of {rounds}",
                variant.key
            );
            let (found, _) = native(
                ws,
                &runtime,
                host_dir,
                host_manifest,
                &measure_args,
                starts,
                invocations,
            )?;
            measured.extend(found);
        }
    }
    let mut rows = Vec::new();
    for (variant, measured) in chosen.iter().zip(&per_variant) {
        let (dist_dir, _) = variants::dist_dirs(&ws.target_dir, variant);
        let sizes = model::sizes(&variants::read_manifest(&dist_dir, variant)?);
        for name in &only {
            let size = sizes
                .iter()
                .find(|s| s.name == *name)
                .with_context(|| format!("{name} is not in {}", dist_dir.display()))?
                .clone();
            let runs: Vec<Measured> = measured
                .iter()
                .filter(|m| m.name == *name)
                .cloned()
                .collect();
            let row = variants::Row {
                variant: *variant,
                size,
                measured: variants::combine_rounds(&runs),
            };
            eprintln!("bench --variants: {}", variants::summary_line(&row));
            rows.push(row);
        }
    }

    let host = HostInfo::detect();
    let keys: Vec<&str> = chosen.iter().map(|v| v.key).collect();
    let how = format!(
        "Measured {} by `cargo xtask bench --variants {} --only {}` on {} ({}, {} cores), \
         {}: zip and unzipped bytes of the aarch64 builds (`cargo xtask dist`'s recipe), \
         change against the adopted build; times from host builds of the same variant, \
         {rounds} rounds (every variant once per round, in this order), each with {starts} \
         cold starts and {invocations} warm invocations: the median of the rounds' medians, \
         the highest peak RSS.",
        host.date,
        keys.join(","),
        only.join(","),
        host.arch,
        host.cpu_model,
        host.cores,
        host.rustc,
    );
    let section = variants::readme_section(&rows, &how);
    let out_dir = out_dir(ws, args);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let md_path = out_dir.join("benchmarks-variants.md");
    std::fs::write(
        &md_path,
        format!(
            "# Size and cold-start variants\n\nWhat each variant changes and why none of \
             them is adopted: README, \"One HTTP client per process\".\n\n{section}"
        ),
    )
    .with_context(|| format!("writing {}", md_path.display()))?;
    let readme_path = ws.root.join("README.md");
    if args.out.is_none() && !args.quick {
        splice_readme_file(
            &readme_path,
            variants::README_START,
            variants::README_END,
            &section,
            "variants",
        )?;
    }
    println!("{}", variants::table(&rows).trim_end());
    println!("\nbench --variants: wrote {}", md_path.display());
    Ok(())
}

pub fn bench(ws: &Workspace, args: &BenchArgs) -> anyhow::Result<()> {
    if let Some(list) = &args.variants {
        return bench_variants(ws, args, list);
    }
    let (starts, invocations) = counts(args);
    let out_dir = out_dir(ws, args);
    let host = HostInfo::detect();
    let mut notes = Vec::new();

    let dist_dir = ws.resolve(&args.dist);
    let target = ws.default_target()?;
    let manifest = ensure_dist(ws, &target, &dist_dir, args, false)?;
    let host_dist = ws.resolve(&args.host_dist);
    let host_manifest = ensure_dist(ws, &BuildTarget::Host, &host_dist, args, true)?;

    let deployed: Vec<String> = manifest
        .artifacts()
        .iter()
        .map(|a| a.name.to_owned())
        .collect();
    let stale: Vec<String> = host_manifest
        .artifacts()
        .iter()
        .map(|a| a.name.to_owned())
        .filter(|name| !deployed.contains(name))
        .collect();
    if !stale.is_empty() {
        let message = format!(
            "{} not in {} (built before they existed?): their sizes are missing; \
             rebuild it with `cargo xtask dist --out {}`",
            stale.join(", "),
            args.dist.display(),
            args.dist.display()
        );
        eprintln!("bench: note: {message}");
        notes.push(message);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (mut measured, logs) = native(
        ws,
        &runtime,
        &host_dist,
        &host_manifest,
        args,
        starts,
        invocations,
    )?;

    let skip_qemu = if args.quick {
        Some("--quick (run `cargo xtask smoke` for the aarch64 boot check)".to_owned())
    } else if args.skip_qemu {
        Some("--skip-qemu".to_owned())
    } else if host.is_aarch64() {
        Some("the host is aarch64: the native runs above are the aarch64 code".to_owned())
    } else {
        None
    };
    match skip_qemu {
        Some(why) => {
            for m in &mut measured {
                m.qemu = QemuCheck::NotRun(why.clone());
            }
        }
        None => {
            let checks = qemu_checks(ws, &runtime, &dist_dir, &manifest, &args.only)?;
            for m in &mut measured {
                m.qemu = checks
                    .iter()
                    .find(|(name, _)| *name == m.name)
                    .map(|(_, check)| check.clone())
                    .unwrap_or_else(|| QemuCheck::NotRun("not in the aarch64 dist".into()));
            }
        }
    }

    let micro = if args.quick || args.skip_micro {
        notes.push("Micro-benchmarks not run (`--quick` or `--skip-micro`).".to_owned());
        Vec::new()
    } else {
        micro(ws)?
    };
    let python = if args.quick || args.skip_python {
        notes.push("Python baseline not run (`--quick` or `--skip-python`).".to_owned());
        None
    } else {
        Some(python(ws, starts)?)
    };

    notes.push(format!(
        "Native timings: `cargo xtask dist --target host` ({}), the same release profile \
         as the aarch64 artifacts, started from their zips with only the Lambda environment.",
        host_dist
            .strip_prefix(&ws.root)
            .unwrap_or(&host_dist)
            .display()
    ));
    notes.push(
        "Release builds set `AWS_LC_SYS_NO_JITTER_ENTROPY=1`; with aws-lc's jitter entropy \
         source, the first random draw in a fresh process (what the first TLS connection or \
         signature does) took a median of 96.7 ms instead of 0.09 ms in a one-off measurement \
         (README, \"One TLS and crypto stack\"; not repeated by this command): it would \
         dominate every cold start in this table."
            .to_owned(),
    );
    notes.push(
        "The telemetry extension is measured from exec to the end of its registration (its \
         first `/extension/event/next`); its peak RSS is taken right after that. It replaces a \
         vendor observability layer of about 80 MB unzipped (design notes), not measured here."
            .to_owned(),
    );

    let mut report = Report {
        host,
        quick: args.quick,
        sizes: model::sizes(&manifest),
        measured,
        python,
        micro,
        notes,
        findings: Vec::new(),
    };
    let bloat = size_breakdown(ws, &report);
    report.findings = findings(&report, &logs, &bloat);

    let markdown = render::render(&report);
    let caption = format!(
        "{} · {} ({}, {} cores) · {}",
        report.host.date,
        report.host.arch,
        report.host.cpu_model,
        report.host.cores,
        report.host.rustc
    );
    let chart = svg::render(&report, &caption);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let md_path = out_dir.join("benchmarks.md");
    let svg_path = out_dir.join("benchmarks.svg");
    std::fs::write(&md_path, &markdown)
        .with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&svg_path, &chart).with_context(|| format!("writing {}", svg_path.display()))?;

    // The README shows the summary of the run that wrote docs/.
    let readme_path = ws.root.join("README.md");
    let readme_updated = if args.out.is_none() && !args.quick {
        splice_readme_file(
            &readme_path,
            render::README_START,
            render::README_END,
            &render::readme_section(&report, "docs"),
            "benchmark",
        )?;
        true
    } else {
        false
    };

    println!("{}", render::comparison_table(&report).trim_end());
    println!();
    for line in model::targets(&report) {
        println!(
            "{} {}: {}{}",
            if line.met { "met " } else { "MISS" },
            line.target,
            line.measured,
            line.over_by
                .map(|o| format!(", over by {o}"))
                .unwrap_or_default()
        );
    }
    println!(
        "\nbench: wrote {} and {}{}",
        md_path.display(),
        svg_path.display(),
        if readme_updated {
            format!(" and the summary in {}", readme_path.display())
        } else {
            String::new()
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_bloat_json_becomes_each_crates_share_of_the_code() {
        let json = r#"{"file-size":5000000,"text-section-size":2097152,"crates":[
            {"name":"aws_sdk_dynamodb","size":524288},{"name":"std","size":209715},
            {"name":"aws_lc_sys","size":104858}]}"#;
        assert_eq!(
            bloat_summary(json, 2).unwrap(),
            "aws_sdk_dynamodb 25%, std 10% of 2.00 MiB of code (cargo bloat, host build)"
        );
        assert!(bloat_summary("not json", 2).is_err());
        assert!(bloat_summary(r#"{"crates":[]}"#, 2).is_err());
    }

    #[test]
    fn init_steps_are_read_from_json_log_lines_slowest_first() {
        let log = "--- output of bootstrap ---\n\
            stdout | {\"level\":\"INFO\",\"fields\":{\"message\":\"config loaded\",\"elapsed_ms\":1.5}}\n\
            stdout | {\"level\":\"INFO\",\"fields\":{\"message\":\"clients built\",\"elapsed_ms\":7.25}}\n\
            stdout | {\"fields\":{\"message\":\"request handled\",\"duration_ms\":9.5},\"span\":{\"requestId\":\"r-1\"}}\n\
            stderr | not json\n\
            --- end of output ---";
        assert_eq!(
            logged_init_steps(log),
            [
                ("clients built (elapsed_ms)".to_owned(), 7.25),
                ("config loaded (elapsed_ms)".to_owned(), 1.5)
            ]
        );
        assert!(logged_init_steps("stdout | {\"message\":\"x\"}").is_empty());
    }

    #[test]
    fn a_missed_size_target_names_the_largest_artifacts_and_the_variants_command() {
        let mut report = model::tests::report();
        report.sizes.push(SizeRow {
            name: "sms".into(),
            kind: Kind::Function,
            zip_bytes: 2_188_252,
            unzipped_bytes: 4_428_120,
            budget_zip: 2_297_856,
            budget_unzipped: 4_653_056,
        });
        let bloat = [("sms".to_owned(), "std 16%, aws_lc_sys 11%".to_owned())];
        let found = findings(&report, &[], &bloat);
        let (_, sms) = found.iter().find(|(key, _)| key == "sms zip").unwrap();
        assert!(
            sms.starts_with("largest: users 2.27 MiB, sms 2.09 MiB"),
            "{sms}"
        );
        assert!(
            sms.contains("sms's code by crate: std 16%, aws_lc_sys 11%"),
            "{sms}"
        );
        assert!(sms.contains("`cargo xtask bench --variants all`"), "{sms}");
        // sms-worker is not in this dist: nothing to break down.
        let (_, worker) = found
            .iter()
            .find(|(key, _)| key == "sms-worker zip")
            .unwrap();
        assert_eq!(worker, "sms-worker is not built yet");
    }

    #[test]
    fn no_build_without_a_dist_names_the_command_that_builds_it() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::in_dir(dir.path());
        let args = BenchArgs {
            quick: true,
            no_build: true,
            skip_python: false,
            skip_micro: false,
            skip_qemu: false,
            only: vec![],
            dist: "dist".into(),
            host_dist: "target/bench/dist-host".into(),
            out: None,
            starts: None,
            invocations: None,
            variants: None,
            rounds: None,
        };
        let host_dist = dir.path().join("target/bench/dist-host");
        let err = ensure_dist(&ws, &BuildTarget::Host, &host_dist, &args, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "manifest.json is missing; build it with `cargo xtask dist --target host --out "
            ),
            "{err}"
        );
    }

    #[test]
    fn only_fresh_criterion_estimates_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, median: f64| {
            let file = dir.path().join(path).join("new/estimates.json");
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(
                &file,
                format!("{{\"median\":{{\"point_estimate\":{median}}}}}"),
            )
            .unwrap();
        };
        write("old/stale", 1.0);
        write("jwt/verify", 31_000.0);
        write("cors/preflight", 250.0);
        let stale = std::fs::File::options()
            .write(true)
            .open(dir.path().join("old/stale/new/estimates.json"))
            .unwrap();
        stale
            .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
            .unwrap();
        let since = SystemTime::now() - Duration::from_secs(60);
        let results = read_criterion(dir.path(), since).unwrap();
        assert_eq!(
            results,
            vec![
                MicroResult {
                    id: "cors/preflight".into(),
                    median_ns: 250.0
                },
                MicroResult {
                    id: "jwt/verify".into(),
                    median_ns: 31_000.0
                },
            ]
        );
    }
}
