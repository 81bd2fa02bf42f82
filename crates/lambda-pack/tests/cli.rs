//! The `lambda-pack` binary: error handling and the full
//! zip -> manifest -> check flow on a fake workspace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use lambda_pack::elf::{FakeElf, Machine};

const BIN: &str = env!("CARGO_BIN_EXE_lambda-pack");

fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn run(args: &[&str]) -> Output {
    run_in(Path::new("/"), args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts a failure with the given exit code and a single `lambda-pack:`
/// line on stderr containing `needle`.
fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("lambda-pack: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn write_file(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn arm_elf() -> Vec<u8> {
    FakeElf::static_pie(Machine::Aarch64).build()
}

#[test]
fn help_prints_usage_and_succeeds() {
    for args in [&["--help"][..], &["check", "--help"][..], &["-h"][..]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("lambda-pack zip --binary <path> --out <file.zip>"));
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    assert_fails(&run(&[]), 2, "missing command");
    assert_fails(&run(&["frobnicate"]), 2, "unknown command \"frobnicate\"");
    assert_fails(
        &run(&["zip", "--binary", "x", "--verbose"]),
        2,
        "unknown flag --verbose",
    );
    assert_fails(&run(&["zip", "--binary"]), 2, "--binary needs a value");
    assert_fails(&run(&["zip", "--binary", "x"]), 2, "missing --out");
    assert_fails(&run(&["zip", "stray"]), 2, "unexpected argument \"stray\"");
    assert_fails(
        &run(&["zip", "--out", "a", "--out", "b"]),
        2,
        "--out given twice",
    );
    assert_fails(
        &run(&["layer", "--out", "x.zip"]),
        2,
        "exactly one of --dir",
    );
    assert_fails(
        &run(&["layer", "--extension", "b", "--out", "x.zip"]),
        2,
        "--extension needs --name",
    );
    assert_fails(
        &run(&["check", "--artifacts", "/tmp", "--machine", "arm64"]),
        2,
        "expected aarch64 or x86_64",
    );
}

#[test]
fn bad_inputs_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.zip");
    assert_fails(
        &run(&["zip", "--binary", s(&d.join("missing")), "--out", s(&out)]),
        1,
        "missing: No such file or directory",
    );
    write_file(&d.join("script"), b"#!/bin/sh\necho hi\n", 0o755);
    assert_fails(
        &run(&["zip", "--binary", s(&d.join("script")), "--out", s(&out)]),
        1,
        "not a usable ELF file: no ELF magic number",
    );
    assert_fails(
        &run(&["zip", "--binary", s(d), "--out", s(&out)]),
        1,
        "is a directory, expected a file",
    );
    write_file(&d.join("bin"), &arm_elf(), 0o755);
    assert_fails(
        &run(&["zip", "--binary", s(&d.join("bin")), "--out", s(d)]),
        1,
        "is a directory, expected a file path",
    );
    assert_fails(
        &run(&[
            "zip",
            "--binary",
            s(&d.join("bin")),
            "--out",
            s(&d.join("no/such/dir/x.zip")),
        ]),
        1,
        "No such file or directory",
    );
    assert_fails(
        &run(&["layer", "--dir", s(&d.join("bin")), "--out", s(&out)]),
        1,
        "is not a directory",
    );
    assert!(!out.exists());

    let o = run_in(
        d,
        &["zip", "--binary", "bin", "--out", "x.zip"],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    assert_fails(&o, 1, "SOURCE_DATE_EPOCH: \"yesterday\" is not a number");

    // check/report without, or with a broken, manifest.json.
    assert_fails(
        &run(&["check", "--artifacts", s(d)]),
        1,
        "manifest.json: No such file",
    );
    std::fs::write(d.join("manifest.json"), "{\"schema_version\": 1").unwrap();
    assert_fails(&run(&["check", "--artifacts", s(d)]), 1, "invalid manifest");
    assert_fails(
        &run(&["report", "--artifacts", s(d)]),
        1,
        "invalid manifest",
    );
    std::fs::write(d.join("manifest.json"), [0xff, 0xfe]).unwrap();
    assert_fails(&run(&["report", "--artifacts", s(d)]), 1, "not UTF-8");
    assert_fails(
        &run(&["artifacts", "--workspace", s(d)]),
        1,
        "Cargo.toml: No such file",
    );
}

/// The zip CLI output, run from `cwd` with the given TZ and umask.
fn zip_via_shell(cwd: &Path, binary: &Path, out: &Path, tz: &str, umask: &str) -> Vec<u8> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask} && exec \"$0\" zip --binary \"$1\" --out \"$2\""
        ))
        .arg(BIN)
        .arg(binary)
        .arg(out)
        .current_dir(cwd)
        .env("TZ", tz)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::read(cwd.join(out)).unwrap()
}

#[test]
fn same_binary_gives_identical_zips_across_mtime_mode_umask_tz_and_directory() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ba, bb) = (a.path().join("x/cors"), b.path().join("y/z/cors"));
    write_file(&ba, &arm_elf(), 0o700);
    write_file(&bb, &arm_elf(), 0o755);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&ba)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let za = zip_via_shell(a.path(), &ba, &a.path().join("cors.zip"), "UTC", "077");
    let zb = zip_via_shell(
        b.path().join("y").as_path(),
        &bb,
        Path::new("../out.zip"),
        "Pacific/Kiritimati",
        "022",
    );
    assert_eq!(za, zb);
}

#[test]
fn source_date_epoch_is_honoured_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(&d.join("cors"), &arm_elf(), 0o755);
    let env = [
        ("SOURCE_DATE_EPOCH", "1700000000"),
        ("TZ", "America/New_York"),
    ];
    let o = run_in(d, &["zip", "--binary", "cors", "--out", "a.zip"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("a.zip: "));
    let o = run_in(d, &["zip", "--binary", "cors", "--out", "b.zip"], &[]);
    assert!(o.status.success());
    let a = std::fs::read(d.join("a.zip")).unwrap();
    let b = std::fs::read(d.join("b.zip")).unwrap();
    assert_ne!(a, b);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
    let t = archive.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!(
        (t.year(), t.month(), t.day(), t.hour(), t.minute()),
        (2023, 11, 14, 22, 13)
    );
}

#[test]
fn layer_dir_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(&d.join("tree/bin/tool"), &arm_elf(), 0o755);
    std::os::unix::fs::symlink("tool", d.join("tree/bin/alias")).unwrap();
    let o = run_in(d, &["layer", "--dir", "tree", "--out", "l.zip"], &[]);
    assert_fails(&o, 1, "tree/bin/alias: is a symbolic link");
    std::fs::remove_file(d.join("tree/bin/alias")).unwrap();
    let o = run_in(d, &["layer", "--dir", "tree", "--out", "l.zip"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

const ROOT_TOML: &str = r#"[workspace]
resolver = "3"
members = ["crates/*"]

[workspace.metadata.lambda]
target = "aarch64-unknown-linux-musl"
architecture = "arm64"
runtime = "provided.al2023"
handler = "bootstrap"

[workspace.metadata.lambda.limits]
max_zip_bytes = 52428800
max_unzipped_bytes = 262144000
max_layers = 5

[workspace.metadata.lambda.external_layers]
vendor-observability = { unzipped_bytes = 83886080 }
"#;

struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
    dist: PathBuf,
}

fn workspace() -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let write = |rel: &str, text: &str| write_file(&root.join(rel), text.as_bytes(), 0o644);
    write("Cargo.toml", ROOT_TOML);
    write(
        "crates/cors/Cargo.toml",
        r#"[package]
name = "cors"
version = "0.1.0"

[package.metadata.lambda]
kind = "function"
memory_mb = 128
timeout_s = 3
layers = ["telemetry", "vendor-observability"]
budget = { zip_bytes = 1048576, unzipped_bytes = 2097152 }
"#,
    );
    write(
        "crates/auth/Cargo.toml",
        r#"[package]
name = "auth-fn"
version = "0.1.0"

[package.metadata.lambda]
kind = "function"
name = "auth"
binary = "auth"
memory_mb = 256
timeout_s = 10
budget = { zip_bytes = 1048576, unzipped_bytes = 2097152 }
"#,
    );
    write(
        "crates/telemetry/Cargo.toml",
        r#"[package]
name = "telemetry"
version = "0.1.0"

[package.metadata.lambda]
kind = "extension"
budget = { zip_bytes = 1048576, unzipped_bytes = 2097152 }
"#,
    );
    write(
        "crates/shared/Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n",
    );
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    for name in ["cors", "auth", "telemetry"] {
        write_file(&dir.path().join("target").join(name), &arm_elf(), 0o755);
    }
    Workspace {
        root,
        dist,
        _dir: dir,
    }
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn package(ws: &Workspace, function_elf: &[u8]) {
    let target = ws.root.parent().unwrap().join("target");
    write_file(&target.join("cors"), function_elf, 0o755);
    for f in ["cors", "auth"] {
        ok(run(&[
            "zip",
            "--binary",
            s(&target.join(f)),
            "--out",
            s(&ws.dist.join(format!("{f}.zip"))),
        ]));
    }
    ok(run(&[
        "layer",
        "--extension",
        s(&target.join("telemetry")),
        "--name",
        "telemetry",
        "--out",
        s(&ws.dist.join("telemetry.zip")),
    ]));
    ok(run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
    ]));
}

#[test]
fn artifacts_lists_the_declared_set_sorted_by_name() {
    let ws = workspace();
    let json: serde_json::Value =
        serde_json::from_str(&ok(run(&["artifacts", "--workspace", s(&ws.root)]))).unwrap();
    let rows: Vec<(&str, &str, &str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["package"].as_str().unwrap(),
                r["binary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("auth", "function", "auth-fn", "auth"),
            ("cors", "function", "cors", "cors"),
            ("telemetry", "extension", "telemetry", "telemetry"),
        ]
    );
    assert_eq!(
        json[1]["layers"],
        serde_json::json!(["telemetry", "vendor-observability"])
    );
}

#[test]
fn artifacts_reports_declaration_errors_naming_crate_and_key() {
    let ws = workspace();
    let file = ws.root.join("crates/telemetry/Cargo.toml");
    let text = std::fs::read_to_string(&file).unwrap() + "memory_mb = 128\n";
    std::fs::write(&file, text).unwrap();
    assert_fails(
        &run(&["artifacts", "--workspace", s(&ws.root)]),
        1,
        "crates/telemetry/Cargo.toml: package.metadata.lambda.memory_mb: only functions take this key",
    );
}

#[test]
fn zip_manifest_check_flow_passes_then_catches_a_bad_binary() {
    let ws = workspace();
    package(&ws, &arm_elf());

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.dist.join("manifest.json")).unwrap())
            .unwrap();
    let cors = &manifest["functions"]["cors"];
    assert_eq!(cors["file"], "cors.zip");
    assert_eq!(cors["layers"], serde_json::json!(["telemetry"]));
    assert_eq!(
        cors["external_layers"],
        serde_json::json!(["vendor-observability"])
    );
    let zip = std::fs::read(ws.dist.join("cors.zip")).unwrap();
    assert_eq!(
        cors["base64sha256"],
        lambda_pack::manifest::base64sha256(&zip)
    );
    assert_eq!(cors["zip_bytes"], zip.len());
    assert_eq!(cors["unzipped_bytes"], arm_elf().len());
    assert_eq!(manifest["functions"]["auth"]["memory_mb"], 256);
    assert_eq!(manifest["layers"]["telemetry"]["kind"], "extension");

    let out = ok(run(&["check", "--artifacts", s(&ws.dist)]));
    assert!(out.contains("all 3 artifacts pass every check"), "{out}");
    assert!(out.lines().next().unwrap().starts_with("artifact"), "{out}");
    let report = ok(run(&["report", "--artifacts", s(&ws.dist)]));
    assert!(report.contains("telemetry  extension"), "{report}");
    assert!(out.starts_with(&report), "check prints the report first");

    // Built for the wrong machine and leaking a store path: two lines, exit 1.
    let bad = FakeElf::static_pie(Machine::X86_64)
        .with_payload(b"/nix/store/abc-openssl/lib\0")
        .build();
    package(&ws, &bad);
    let o = run(&["check", "--artifacts", s(&ws.dist)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(
        lines[0],
        "lambda-pack: cors: machine: limit aarch64, measured x86_64"
    );
    assert!(lines[1].starts_with("lambda-pack: cors: nix-store: limit no /nix/store/ path, measured \"/nix/store/abc-openssl/lib\""), "{err}");
    let o = run(&["check", "--artifacts", s(&ws.dist), "--machine", "x86_64"]);
    assert!(stderr(&o).contains("telemetry: machine: limit x86_64, measured aarch64"));

    // A zip replaced after the manifest was written.
    package(&ws, &arm_elf());
    let mut tampered = std::fs::read(ws.dist.join("cors.zip")).unwrap();
    tampered.insert(0, b'X');
    std::fs::write(ws.dist.join("cors.zip"), &tampered).unwrap();
    let o = run(&["check", "--artifacts", s(&ws.dist)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cors: hash: limit "), "{}", stderr(&o));
}

#[test]
fn manifest_only_selects_artifacts_and_requires_their_layers() {
    let ws = workspace();
    package(&ws, &arm_elf());
    let out = ws.dist.join("only.json");
    ok(run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
        "--only",
        "auth",
        "--out",
        s(&out),
    ]));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        m["functions"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["auth"]
    );
    assert_eq!(m["layers"], serde_json::json!({}));

    let o = run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
        "--only",
        "cors",
        "--out",
        s(&out),
    ]);
    assert_fails(&o, 2, "--only cors leaves out its layer telemetry");
    ok(run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
        "--only",
        "cors",
        "--only",
        "telemetry",
        "--out",
        s(&out),
    ]));
    let o = run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
        "--only",
        "nope",
    ]);
    assert_fails(
        &o,
        2,
        "--only nope: no such artifact (declared: auth, cors, telemetry)",
    );

    std::fs::remove_file(ws.dist.join("auth.zip")).unwrap();
    let o = run(&[
        "manifest",
        "--workspace",
        s(&ws.root),
        "--artifacts",
        s(&ws.dist),
    ]);
    assert_fails(&o, 1, "auth.zip: No such file or directory");
}
