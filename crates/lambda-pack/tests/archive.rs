//! The archive writer, verified with the independent `zip` crate reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use lambda_pack::archive::{self, DosTime};
use lambda_pack::elf::{FakeElf, Machine};
use lambda_pack::manifest::base64sha256;
use zip::CompressionMethod;
use zip::System;
use zip::ZipArchive;
use zip::read::ZipFile;

fn elf() -> Vec<u8> {
    FakeElf::static_pie(Machine::Aarch64).build()
}

fn write(path: &Path, data: &[u8], mode: u32, mtime_secs: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_secs))
        .unwrap();
}

/// A layer tree: an executable, a library, a nested data file.
fn tree(root: &Path, exec_mode: u32, file_mode: u32, mtime: u64) {
    write(&root.join("bin/tool"), &elf(), exec_mode, mtime);
    write(
        &root.join("lib/libx.so"),
        b"not really a library",
        file_mode,
        mtime,
    );
    write(
        &root.join("share/x/data.json"),
        b"{\"a\":1}\n",
        file_mode,
        mtime,
    );
}

struct Expected {
    name: &'static str,
    mode: u32,
}

fn assert_entries(zip_bytes: &[u8], expected: &[Expected], date: (u16, u8, u8, u8, u8, u8)) {
    let mut archive = ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    assert_eq!(archive.len(), expected.len());
    for (i, want) in expected.iter().enumerate() {
        let mut file: ZipFile<'_, _> = archive.by_index(i).unwrap();
        assert_eq!(file.name().unwrap(), want.name);
        assert_eq!(file.unix_mode(), Some(want.mode), "{}", want.name);
        assert_eq!(file.system(), System::Unix);
        assert_eq!(file.extra_data(), None, "{} has extra fields", want.name);
        let t = file.last_modified().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            date,
            "{}",
            want.name
        );
        if want.name.ends_with('/') {
            assert!(file.is_dir());
            assert_eq!(file.compression(), CompressionMethod::Stored);
        } else {
            assert_eq!(file.compression(), CompressionMethod::Deflated);
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            assert_eq!(data.len() as u64, file.size());
        }
    }
}

const Y1980: (u16, u8, u8, u8, u8, u8) = (1980, 1, 1, 0, 0, 0);

#[test]
fn function_zip_holds_only_bootstrap_0755_at_1980() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("cors");
    write(&binary, &elf(), 0o700, 1_600_000_000);
    let zip = archive::function_zip(&binary, DosTime::DEFAULT).unwrap();
    assert_entries(
        &zip,
        &[Expected {
            name: "bootstrap",
            mode: 0o100_755,
        }],
        Y1980,
    );
    let entries = archive::read_zip(&zip, "t").unwrap();
    assert_eq!(entries[0].data, elf());
}

#[test]
fn extension_layer_holds_the_directory_and_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("telemetry-ext");
    write(&binary, &elf(), 0o644, 1_600_000_000);
    let zip = archive::extension_layer(&binary, "telemetry", DosTime::DEFAULT).unwrap();
    assert_entries(
        &zip,
        &[
            Expected {
                name: "extensions/",
                mode: 0o040_755,
            },
            Expected {
                name: "extensions/telemetry",
                mode: 0o100_755,
            },
        ],
        Y1980,
    );
}

#[test]
fn dir_layer_holds_files_and_their_parents_with_fixed_modes() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), 0o750, 0o600, 1_600_000_000);
    std::fs::create_dir_all(dir.path().join("empty/nested")).unwrap();
    let zip = archive::dir_layer(dir.path(), DosTime::DEFAULT).unwrap();
    let e = |name, mode| Expected { name, mode };
    assert_entries(
        &zip,
        &[
            e("bin/", 0o040_755),
            e("bin/tool", 0o100_755),
            e("lib/", 0o040_755),
            e("lib/libx.so", 0o100_644),
            e("share/", 0o040_755),
            e("share/x/", 0o040_755),
            e("share/x/data.json", 0o100_644),
        ],
        Y1980,
    );
}

#[test]
fn source_date_epoch_sets_every_timestamp_in_utc() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), 0o755, 0o644, 1);
    // 2023-11-14 22:13:20 UTC; DOS time keeps even seconds.
    let time = DosTime::from_source_date_epoch(Some("1700000001")).unwrap();
    let zip = archive::dir_layer(dir.path(), time).unwrap();
    let mut archive = ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    for i in 0..archive.len() {
        let t = archive.by_index(i).unwrap().last_modified().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2023, 11, 14, 22, 13, 20)
        );
    }
}

#[test]
fn same_content_gives_the_same_bytes_whatever_mtime_mode_and_location() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let b_root = b.path().join("somewhere/else");
    tree(a.path(), 0o700, 0o600, 1_000_000_000);
    tree(&b_root, 0o755, 0o664, 1_700_000_000);
    let za = archive::dir_layer(a.path(), DosTime::DEFAULT).unwrap();
    let zb = archive::dir_layer(&b_root, DosTime::DEFAULT).unwrap();
    assert_eq!(za, zb);

    let (fa, fb) = (a.path().join("bin/tool"), b_root.join("bin/tool"));
    assert_eq!(
        archive::function_zip(&fa, DosTime::DEFAULT).unwrap(),
        archive::function_zip(&fb, DosTime::DEFAULT).unwrap()
    );
}

#[test]
fn known_inputs_give_pinned_hashes() {
    // Pinned so that any change of layout, level or deflate implementation
    // (flate2/miniz_oxide as locked in Cargo.lock) is a visible decision.
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("b");
    write(&binary, &elf(), 0o755, 0);
    let zip = archive::function_zip(&binary, DosTime::DEFAULT).unwrap();
    assert_eq!(
        base64sha256(&zip),
        "eBGQEQmk+LzUDQ0+u/4c3aPyXgKuIt0TTU/VPuXspkk="
    );
    let layer = archive::extension_layer(&binary, "telemetry", DosTime::DEFAULT).unwrap();
    assert_eq!(
        base64sha256(&layer),
        "SF0LS7Q672p+iirj1+QwEnIkGbSjAp6ySAplq5jkkC4="
    );
    let tree_dir = dir.path().join("tree");
    tree(&tree_dir, 0o755, 0o644, 0);
    let generic = archive::dir_layer(&tree_dir, DosTime::DEFAULT).unwrap();
    assert_eq!(
        base64sha256(&generic),
        "XYyGtYkc4PmY7JQyhss6kJ1U1Ed94a/8H3f7BBqPoRA="
    );
}

#[test]
fn dir_layer_refuses_symlinks_and_empty_trees() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), 0o755, 0o644, 0);
    std::os::unix::fs::symlink("libx.so", dir.path().join("lib/libx.so.1")).unwrap();
    let err = archive::dir_layer(dir.path(), DosTime::DEFAULT).unwrap_err();
    assert!(
        err.to_string()
            .contains("lib/libx.so.1: is a symbolic link"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("bin")).unwrap();
    let err = archive::dir_layer(empty.path(), DosTime::DEFAULT).unwrap_err();
    assert!(err.to_string().contains("holds no files"), "{err}");
}

#[test]
fn binaries_must_be_elf_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bootstrap.sh");
    write(&script, b"#!/bin/sh\n", 0o755, 0);
    let err = archive::function_zip(&script, DosTime::DEFAULT).unwrap_err();
    assert!(err.to_string().contains("not a usable ELF file"), "{err}");
    let err = archive::function_zip(dir.path(), DosTime::DEFAULT).unwrap_err();
    assert!(
        err.to_string().contains("is a directory, expected a file"),
        "{err}"
    );
    let err = archive::extension_layer(&script, "../x", DosTime::DEFAULT).unwrap_err();
    assert!(err.to_string().contains("invalid extension name"), "{err}");
}
