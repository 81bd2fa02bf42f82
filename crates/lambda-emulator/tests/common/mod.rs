//! Helpers shared by the integration tests: packaging the test doubles the way
//! lambda-pack does and writing smoke.json files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

pub const ECHO_FUNCTION: &str = env!("CARGO_BIN_EXE_echo-function");
pub const ECHO_EXTENSION: &str = env!("CARGO_BIN_EXE_echo-extension");
pub const EMULATOR_CLI: &str = env!("CARGO_BIN_EXE_lambda-emulator");

fn write_zip(path: &Path, entries: &[(&str, Option<&Path>)]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, source) in entries {
        // Stored, not deflated: deflating a 12 MB debug binary with unoptimised
        // test dependencies takes seconds per test.
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(0o755);
        match source {
            Some(source) => {
                writer.start_file(*name, options).unwrap();
                writer.write_all(&std::fs::read(source).unwrap()).unwrap();
            }
            None => writer.add_directory(*name, options).unwrap(),
        }
    }
    writer.finish().unwrap();
}

/// `<dir>/<name>.zip` holding `bootstrap` = the echo-function test double.
pub fn function_zip(dir: &Path, name: &str) -> PathBuf {
    let zip = dir.join(format!("{name}.zip"));
    write_zip(&zip, &[("bootstrap", Some(Path::new(ECHO_FUNCTION)))]);
    zip
}

/// `<dir>/<name>.zip` holding `extensions/echo-extension`.
pub fn extension_zip(dir: &Path, name: &str) -> PathBuf {
    let zip = dir.join(format!("{name}.zip"));
    write_zip(
        &zip,
        &[
            ("extensions/", None),
            ("extensions/echo-extension", Some(Path::new(ECHO_EXTENSION))),
        ],
    );
    zip
}

/// Writes `smoke.json` into `dir` and returns its path.
pub fn smoke_json(dir: &Path, spec: &serde_json::Value) -> PathBuf {
    let path = dir.join("smoke.json");
    std::fs::write(&path, serde_json::to_vec_pretty(spec).unwrap()).unwrap();
    path
}

/// A loopback port that was free a moment ago (for the extension's listener,
/// whose port the extension chooses, not the OS).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
