//! Deterministic zip archives (docs/artifacts.md, section 2) and reading
//! them back.
//!
//! The writer is our own so that every byte is decided here: local headers,
//! central directory and end record only; no extra fields, no data
//! descriptors, no zip64; version-made-by Unix so the external attributes
//! carry the Unix mode; raw deflate through `flate2`'s Rust backend at
//! [`DEFLATE_LEVEL`]; entries sorted by name; one timestamp for every entry
//! ([`DosTime`]), computed in UTC. Nothing of the source files but their
//! bytes and their executable bit reaches the archive.
//!
//! Generic layers ([`dir_layer`]) hold every regular file of the tree plus a
//! directory entry for each directory that contains one (empty directories
//! are left out: Lambda unpacks files, and parents are all it needs).
//! Symbolic links and special files inside the tree are refused rather than
//! followed, so that the archive cannot depend on anything outside the tree.
//!
//! Reading uses the independent `zip` crate, so that tests and `check` do
//! not trust the writer they verify.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The fixed deflate level (flate2 / miniz_oxide scale, 0..=9).
pub const DEFLATE_LEVEL: u32 = 9;
/// Mode of executables and directories.
pub const MODE_EXECUTABLE: u32 = 0o755;
/// Mode of every other file.
pub const MODE_FILE: u32 = 0o644;

const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const MSDOS_DIRECTORY: u32 = 0x10;
const VERSION_MADE_BY_UNIX: u16 = (3 << 8) | 20;
const VERSION_DEFLATE: u16 = 20;
const VERSION_STORED: u16 = 10;
const FLAG_UTF8: u16 = 1 << 11;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;

/// An MS-DOS date and time as stored in zip headers (local, 2 s resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosTime {
    /// `(year - 1980) << 9 | month << 5 | day`.
    pub date: u16,
    /// `hour << 11 | minute << 5 | second / 2`.
    pub time: u16,
}

impl DosTime {
    /// 1980-01-01 00:00:00, the default when `SOURCE_DATE_EPOCH` is unset.
    pub const DEFAULT: DosTime = DosTime {
        date: (1 << 5) | 1,
        time: 0,
    };
    /// First second a DOS timestamp can hold: 1980-01-01 00:00:00 UTC.
    pub const MIN_UNIX: i64 = 315_532_800;
    /// Last second a DOS timestamp can hold: 2107-12-31 23:59:58 UTC.
    pub const MAX_UNIX: i64 = 4_354_819_198;

    /// The DOS time of a Unix timestamp, read in UTC and clamped to the DOS range.
    pub fn from_unix(seconds: i64) -> DosTime {
        let s = seconds.clamp(Self::MIN_UNIX, Self::MAX_UNIX);
        let (year, month, day) = civil_from_days(s.div_euclid(86_400));
        let secs = s.rem_euclid(86_400);
        let (hour, minute, second) = (secs / 3600, secs % 3600 / 60, secs % 60);
        // All parts are in range after the clamp, so the narrowing cannot lose bits.
        let date = (((year - 1980) << 9) | (month << 5) | day) as u16;
        let time = ((hour << 11) | (minute << 5) | (second / 2)) as u16;
        DosTime { date, time }
    }

    /// The timestamp for a `SOURCE_DATE_EPOCH` value: unset or empty means
    /// [`DosTime::DEFAULT`]; anything but decimal digits is an error.
    pub fn from_source_date_epoch(value: Option<&str>) -> Result<DosTime, Error> {
        match value {
            None | Some("") => Ok(Self::DEFAULT),
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => {
                // Digits only, so the only parse failure is overflow: clamp it.
                Ok(Self::from_unix(v.parse::<i64>().unwrap_or(i64::MAX)))
            }
            Some(v) => Err(Error::Env {
                variable: "SOURCE_DATE_EPOCH".to_owned(),
                message: format!("\"{v}\" is not a number of seconds since 1970-01-01"),
            }),
        }
    }

    /// The timestamp for this process's `SOURCE_DATE_EPOCH`.
    pub fn from_env() -> Result<DosTime, Error> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) => Self::from_source_date_epoch(Some(&v)),
            Err(std::env::VarError::NotPresent) => Ok(Self::DEFAULT),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Env {
                variable: "SOURCE_DATE_EPOCH".to_owned(),
                message: "not valid UTF-8".to_owned(),
            }),
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory; `name` without the trailing slash, which the writer adds.
    Dir {
        /// Path inside the archive, `/`-separated.
        name: String,
    },
    /// A regular file.
    File {
        /// Path inside the archive, `/`-separated.
        name: String,
        /// Its bytes.
        data: Vec<u8>,
        /// Stored as 0755 when true, else 0644.
        executable: bool,
    },
}

impl Entry {
    fn archive_name(&self) -> String {
        match self {
            Entry::Dir { name } => format!("{name}/"),
            Entry::File { name, .. } => name.clone(),
        }
    }
}

fn push16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn too_big(name: &str) -> Error {
    Error::Input {
        path: PathBuf::from(name),
        message: "too large for a zip without zip64 (4 GiB / 65535 entries)".to_owned(),
    }
}

fn deflate(name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(DEFLATE_LEVEL));
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error::io(name, e))
}

/// Writes `entries` as a deterministic zip: sorted by name, one timestamp,
/// fixed modes. Duplicate or unsafe names are refused.
pub fn build_zip(entries: Vec<Entry>, time: DosTime) -> Result<Vec<u8>, Error> {
    let mut entries: Vec<(String, Entry)> =
        entries.into_iter().map(|e| (e.archive_name(), e)).collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for pair in entries.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(Error::Input {
                path: PathBuf::from(&pair[0].0),
                message: "duplicate archive entry".to_owned(),
            });
        }
    }
    if entries.len() > usize::from(u16::MAX) {
        return Err(too_big("archive"));
    }

    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, entry) in &entries {
        check_entry_name(name)?;
        let (method, version, crc, size, payload, mode) = match entry {
            Entry::Dir { .. } => (
                METHOD_STORED,
                VERSION_STORED,
                0,
                0,
                Vec::new(),
                S_IFDIR | MODE_EXECUTABLE,
            ),
            Entry::File {
                data, executable, ..
            } => {
                let mut crc = flate2::Crc::new();
                crc.update(data);
                let size = u32::try_from(data.len()).map_err(|_| too_big(name))?;
                let mode = if *executable {
                    MODE_EXECUTABLE
                } else {
                    MODE_FILE
                };
                (
                    METHOD_DEFLATE,
                    VERSION_DEFLATE,
                    crc.sum(),
                    size,
                    deflate(name, data)?,
                    S_IFREG | mode,
                )
            }
        };
        let compressed = u32::try_from(payload.len()).map_err(|_| too_big(name))?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big(name))?;
        let offset = u32::try_from(out.len()).map_err(|_| too_big(name))?;
        let flags = if name.is_ascii() { 0 } else { FLAG_UTF8 };
        let external = (mode << 16)
            | if matches!(entry, Entry::Dir { .. }) {
                MSDOS_DIRECTORY
            } else {
                0
            };

        push32(&mut out, 0x0403_4b50);
        push16(&mut out, version);
        push16(&mut out, flags);
        push16(&mut out, method);
        push16(&mut out, time.time);
        push16(&mut out, time.date);
        push32(&mut out, crc);
        push32(&mut out, compressed);
        push32(&mut out, size);
        push16(&mut out, name_len);
        push16(&mut out, 0); // extra field length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&payload);

        push32(&mut central, 0x0201_4b50);
        push16(&mut central, VERSION_MADE_BY_UNIX);
        push16(&mut central, version);
        push16(&mut central, flags);
        push16(&mut central, method);
        push16(&mut central, time.time);
        push16(&mut central, time.date);
        push32(&mut central, crc);
        push32(&mut central, compressed);
        push32(&mut central, size);
        push16(&mut central, name_len);
        push16(&mut central, 0); // extra field length
        push16(&mut central, 0); // comment length
        push16(&mut central, 0); // disk number start
        push16(&mut central, 0); // internal attributes
        push32(&mut central, external);
        push32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(entries.len()).map_err(|_| too_big("archive"))?;
    let central_offset = u32::try_from(out.len()).map_err(|_| too_big("archive"))?;
    let central_size = u32::try_from(central.len()).map_err(|_| too_big("archive"))?;
    out.extend_from_slice(&central);
    push32(&mut out, 0x0605_4b50);
    push16(&mut out, 0); // this disk
    push16(&mut out, 0); // disk with the central directory
    push16(&mut out, count);
    push16(&mut out, count);
    push32(&mut out, central_size);
    push32(&mut out, central_offset);
    push16(&mut out, 0); // comment length
    Ok(out)
}

fn check_entry_name(name: &str) -> Result<(), Error> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let bad = trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.contains('\\')
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(Error::Input {
            path: PathBuf::from(name),
            message: "not a safe relative archive path".to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Reads a file that must be a regular file (symlinks to one are followed:
/// build outputs are often reached through one).
pub fn read_regular_file(path: &Path) -> Result<Vec<u8>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "is a directory, expected a file".to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "is not a regular file".to_owned(),
        });
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn read_executable(path: &Path) -> Result<Vec<u8>, Error> {
    let data = read_regular_file(path)?;
    crate::elf::inspect(&data, &path.display().to_string())?;
    Ok(data)
}

/// A function zip: the ELF at `binary` as the single entry `bootstrap` (0755).
pub fn function_zip(binary: &Path, time: DosTime) -> Result<Vec<u8>, Error> {
    let data = read_executable(binary)?;
    build_zip(
        vec![Entry::File {
            name: "bootstrap".to_owned(),
            data,
            executable: true,
        }],
        time,
    )
}

/// An extension layer: `extensions/` and `extensions/<name>` (both 0755).
pub fn extension_layer(binary: &Path, name: &str, time: DosTime) -> Result<Vec<u8>, Error> {
    let valid =
        !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if !valid {
        return Err(Error::Usage(format!(
            "invalid extension name \"{name}\": it becomes the file name extensions/<name>"
        )));
    }
    let data = read_executable(binary)?;
    build_zip(
        vec![
            Entry::Dir {
                name: "extensions".to_owned(),
            },
            Entry::File {
                name: format!("extensions/{name}"),
                data,
                executable: true,
            },
        ],
        time,
    )
}

/// A generic layer from a directory tree (`bin/`, `lib/`, ...): every
/// regular file, 0755 when any execute bit is set else 0644, plus the
/// directories that contain files. Links and special files are refused.
pub fn dir_layer(dir: &Path, time: DosTime) -> Result<Vec<u8>, Error> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::Input {
            path: dir.to_path_buf(),
            message: "is not a directory".to_owned(),
        });
    }
    let mut entries = Vec::new();
    collect_tree(dir, "", &mut entries)?;
    if entries.is_empty() {
        return Err(Error::Input {
            path: dir.to_path_buf(),
            message: "holds no files: an empty layer is useless".to_owned(),
        });
    }
    build_zip(entries, time)
}

/// Adds the files under `dir` (archive prefix `prefix`) and returns whether
/// any file was found, so parents are added only for non-empty directories.
fn collect_tree(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<bool, Error> {
    let mut found = false;
    let listing = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for item in listing {
        let item = item.map_err(|e| Error::io(dir, e))?;
        let path = item.path();
        let Some(file_name) = item.file_name().to_str().map(str::to_owned) else {
            return Err(Error::Input {
                path,
                message: "file name is not valid UTF-8".to_owned(),
            });
        };
        let name = if prefix.is_empty() {
            file_name
        } else {
            format!("{prefix}/{file_name}")
        };
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(Error::Input {
                path,
                message:
                    "is a symbolic link: layers take regular files only, copy the target instead"
                        .to_owned(),
            });
        } else if kind.is_dir() {
            if collect_tree(&path, &name, out)? {
                out.push(Entry::Dir { name });
                found = true;
            }
        } else if kind.is_file() {
            let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            out.push(Entry::File {
                name,
                data,
                executable: meta.permissions().mode() & 0o111 != 0,
            });
            found = true;
        } else {
            return Err(Error::Input {
                path,
                message: "is neither a regular file nor a directory".to_owned(),
            });
        }
    }
    Ok(found)
}

/// Writes `bytes` to `out` through a temporary file in the same directory,
/// so a failed run never leaves a half-written archive behind.
pub fn write_file(out: &Path, bytes: &[u8]) -> Result<(), Error> {
    if out.is_dir() {
        return Err(Error::Input {
            path: out.to_path_buf(),
            message: "is a directory, expected a file path".to_owned(),
        });
    }
    let Some(file_name) = out.file_name() else {
        return Err(Error::Input {
            path: out.to_path_buf(),
            message: "has no file name".to_owned(),
        });
    };
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let result = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e)));
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One entry read back from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEntry {
    /// Its name, directories with a trailing `/`.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// The Unix mode (type and permission bits) when the archive carries one.
    pub unix_mode: Option<u32>,
    /// Uncompressed size.
    pub size: u64,
    /// Its bytes, decompressed and CRC-checked.
    pub data: Vec<u8>,
}

impl ReadEntry {
    /// The permission bits (e.g. `0o755`), when the archive carries a mode.
    pub fn permissions(&self) -> Option<u32> {
        self.unix_mode.map(|m| m & 0o7777)
    }
}

/// Reads every entry of a zip with the `zip` crate. `what` names the
/// archive in errors.
pub fn read_zip(bytes: &[u8], what: &str) -> Result<Vec<ReadEntry>, Error> {
    let zip_err = |e: &dyn std::fmt::Display| Error::Zip {
        what: what.to_owned(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| zip_err(&e))?;
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| zip_err(&e))?;
        let name = file.name().map_err(|e| zip_err(&e))?.into_owned();
        let size = file.size();
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| zip_err(&format!("{name}: {e}")))?;
        entries.push(ReadEntry {
            is_dir: file.is_dir(),
            unix_mode: file.unix_mode(),
            name,
            size,
            data,
        });
    }
    Ok(entries)
}

/// The unpacked size of an archive: the sum of its entries' sizes.
pub fn unzipped_size(entries: &[ReadEntry]) -> u64 {
    entries.iter().map(|e| e.size).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_defaults_to_1980_and_reads_source_date_epoch_in_utc() {
        assert_eq!(
            DosTime::from_source_date_epoch(None).unwrap(),
            DosTime::DEFAULT
        );
        assert_eq!(
            DosTime::from_source_date_epoch(Some("")).unwrap(),
            DosTime::DEFAULT
        );
        assert_eq!(DosTime::from_unix(DosTime::MIN_UNIX), DosTime::DEFAULT);
        // 2023-11-14 22:13:20 UTC
        let t = DosTime::from_source_date_epoch(Some("1700000000")).unwrap();
        assert_eq!(t.date, ((2023 - 1980) << 9) | (11 << 5) | 14);
        assert_eq!(t.time, (22 << 11) | (13 << 5) | 10);
    }

    #[test]
    fn dos_time_clamps_to_the_dos_range() {
        assert_eq!(DosTime::from_unix(0), DosTime::DEFAULT);
        assert_eq!(
            DosTime::from_source_date_epoch(Some("0")).unwrap(),
            DosTime::DEFAULT
        );
        let max = DosTime::from_unix(DosTime::MAX_UNIX);
        assert_eq!(max.date, (127 << 9) | (12 << 5) | 31);
        assert_eq!(max.time, (23 << 11) | (59 << 5) | 29);
        assert_eq!(DosTime::from_unix(i64::MAX), max);
        assert_eq!(
            DosTime::from_source_date_epoch(Some("99999999999999999999999")).unwrap(),
            max
        );
    }

    #[test]
    fn dos_time_handles_leap_days() {
        // 2024-02-29 12:00:00 UTC
        let t = DosTime::from_unix(1_709_208_000);
        assert_eq!(t.date, (44 << 9) | (2 << 5) | 29);
        assert_eq!(t.time, 12 << 11);
    }

    #[test]
    fn rejects_malformed_source_date_epoch() {
        for bad in ["-1", "1.5", "abc", " 1"] {
            let err = DosTime::from_source_date_epoch(Some(bad)).unwrap_err();
            assert!(err.to_string().starts_with("SOURCE_DATE_EPOCH: "), "{err}");
        }
    }

    #[test]
    fn entries_are_sorted_and_carry_fixed_modes() {
        let zip = build_zip(
            vec![
                Entry::File {
                    name: "lib/b.so".into(),
                    data: b"b".to_vec(),
                    executable: false,
                },
                Entry::Dir { name: "lib".into() },
                Entry::File {
                    name: "bin/a".into(),
                    data: b"a".to_vec(),
                    executable: true,
                },
            ],
            DosTime::DEFAULT,
        )
        .unwrap();
        let entries = read_zip(&zip, "t").unwrap();
        let got: Vec<_> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.is_dir, e.unix_mode))
            .collect();
        assert_eq!(
            got,
            [
                ("bin/a", false, Some(0o100_755)),
                ("lib/", true, Some(0o040_755)),
                ("lib/b.so", false, Some(0o100_644)),
            ]
        );
    }

    #[test]
    fn rejects_duplicate_and_unsafe_entry_names() {
        let file = |name: &str| Entry::File {
            name: name.into(),
            data: vec![],
            executable: false,
        };
        let err = build_zip(vec![file("a"), file("a")], DosTime::DEFAULT).unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
        for bad in ["../x", "/abs", "a//b", "a/./b", ""] {
            let err = build_zip(vec![file(bad)], DosTime::DEFAULT).unwrap_err();
            assert!(
                err.to_string().contains("not a safe relative"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn empty_files_and_non_ascii_names_round_trip() {
        let zip = build_zip(
            vec![Entry::File {
                name: "données".into(),
                data: vec![],
                executable: false,
            }],
            DosTime::DEFAULT,
        )
        .unwrap();
        let entries = read_zip(&zip, "t").unwrap();
        assert_eq!(entries[0].name, "données");
        assert_eq!(entries[0].size, 0);
    }

    #[test]
    fn read_zip_rejects_garbage() {
        let err = read_zip(b"not a zip", "x.zip").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.zip: not a readable zip archive"),
            "{err}"
        );
    }
}
