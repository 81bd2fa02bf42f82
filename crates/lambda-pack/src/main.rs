//! `lambda-pack`: command-line front end of the packager (see --help).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lambda_pack::archive::{self, DosTime};
use lambda_pack::elf::Machine;
use lambda_pack::manifest::{self, Manifest};
use lambda_pack::spec::ArtifactSet;
use lambda_pack::{Error, check, report};

const USAGE: &str = "\
lambda-pack: deterministic AWS Lambda archives, manifest and checks

Usage:
  lambda-pack zip --binary <path> --out <file.zip>
      function zip with the single entry `bootstrap` (0755)
  lambda-pack layer --dir <tree> --out <file.zip>
      generic layer of a directory tree (files and their parent directories;
      symbolic links are refused)
  lambda-pack layer --extension <binary> --name <name> --out <file.zip>
      extension layer: `extensions/` and `extensions/<name>` (0755)
  lambda-pack artifacts --workspace <dir>
      print the declared artifact set as JSON, sorted by name (routes included)
  lambda-pack manifest --workspace <dir> --artifacts <dir> [--only <name>]... [--out <path>]
      write <artifacts>/manifest.json (or --out) from the declaration and <name>.zip files
  lambda-pack check --artifacts <dir> [--machine aarch64|x86_64]
      check every archive and route of <dir>/manifest.json, print the size
      report; exit 1 with one line per violation
  lambda-pack report --artifacts <dir>
      print the size report of <dir>/manifest.json

Archive timestamps come from SOURCE_DATE_EPOCH (UTC) when set, else 1980-01-01.
Exit status: 0 success, 1 failure or violations, 2 usage error.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lambda-pack: {error}");
            if matches!(error, Error::Usage(_)) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Flags of one command: name -> repeatable.
type FlagSpec = &'static [(&'static str, bool)];

struct Flags {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    fn parse(args: &[String], spec: FlagSpec) -> Result<Flags, Error> {
        let mut values: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let Some((flag, repeatable)) = spec.iter().find(|(f, _)| *f == name) else {
                return Err(if name.starts_with('-') {
                    Error::Usage(format!("unknown flag {name}"))
                } else {
                    Error::Usage(format!("unexpected argument \"{name}\""))
                });
            };
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| Error::Usage(format!("{flag} needs a value")))?,
            };
            let slot = values.entry(flag).or_default();
            if !slot.is_empty() && !repeatable {
                return Err(Error::Usage(format!("{flag} given twice")));
            }
            slot.push(value);
        }
        Ok(Flags { values })
    }

    fn opt(&self, flag: &str) -> Option<&str> {
        self.values
            .get(flag)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn path(&self, flag: &str) -> Result<PathBuf, Error> {
        self.opt(flag)
            .map(PathBuf::from)
            .ok_or_else(|| Error::Usage(format!("missing {flag}")))
    }

    fn all(&self, flag: &str) -> Vec<String> {
        self.values.get(flag).cloned().unwrap_or_default()
    }
}

fn out(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("<stdout>", e))
}

fn run(args: &[String]) -> Result<ExitCode, Error> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Error::Usage("missing command".to_owned()));
    };
    if matches!(command.as_str(), "-h" | "--help" | "help")
        || rest.iter().any(|a| a == "-h" || a == "--help")
    {
        out(USAGE)?;
        return Ok(ExitCode::SUCCESS);
    }
    match command.as_str() {
        "zip" => {
            let f = Flags::parse(rest, &[("--binary", false), ("--out", false)])?;
            let (binary, target) = (f.path("--binary")?, f.path("--out")?);
            let bytes = archive::function_zip(&binary, DosTime::from_env()?)?;
            write_archive(&target, &bytes)
        }
        "layer" => {
            let f = Flags::parse(
                rest,
                &[
                    ("--dir", false),
                    ("--extension", false),
                    ("--name", false),
                    ("--out", false),
                ],
            )?;
            let target = f.path("--out")?;
            let bytes = match (f.opt("--dir"), f.opt("--extension")) {
                (Some(dir), None) => {
                    if f.opt("--name").is_some() {
                        return Err(Error::Usage(
                            "--name goes with --extension, not --dir".into(),
                        ));
                    }
                    archive::dir_layer(Path::new(dir), DosTime::from_env()?)?
                }
                (None, Some(binary)) => {
                    let name = f.opt("--name").ok_or_else(|| {
                        Error::Usage("--extension needs --name <name>".to_owned())
                    })?;
                    archive::extension_layer(Path::new(binary), name, DosTime::from_env()?)?
                }
                _ => {
                    return Err(Error::Usage(
                        "layer takes exactly one of --dir <tree> or --extension <binary>".into(),
                    ));
                }
            };
            write_archive(&target, &bytes)
        }
        "artifacts" => {
            let f = Flags::parse(rest, &[("--workspace", false)])?;
            let set = ArtifactSet::load(&f.path("--workspace")?)?;
            out(&set.listing_json())?;
            Ok(ExitCode::SUCCESS)
        }
        "manifest" => {
            let f = Flags::parse(
                rest,
                &[
                    ("--workspace", false),
                    ("--artifacts", false),
                    ("--only", true),
                    ("--out", false),
                ],
            )?;
            let set = ArtifactSet::load(&f.path("--workspace")?)?;
            let dir = f.path("--artifacts")?;
            let target = match f.opt("--out") {
                Some(p) => PathBuf::from(p),
                None => dir.join(manifest::FILE_NAME),
            };
            let manifest = Manifest::build(&set, &dir, &f.all("--only"))?;
            manifest.write(&target)?;
            out(&format!("{}\n", target.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        "check" => {
            let f = Flags::parse(rest, &[("--artifacts", false), ("--machine", false)])?;
            let machine = match f.opt("--machine") {
                None => Machine::Aarch64,
                Some(name) => Machine::from_name(name).ok_or_else(|| {
                    Error::Usage(format!("--machine {name}: expected aarch64 or x86_64"))
                })?,
            };
            let outcome = check::check_dir(&f.path("--artifacts")?, machine)?;
            out(&report::render(&outcome.manifest))?;
            if outcome.violations.is_empty() {
                let count = outcome.manifest.artifacts().len();
                out(&format!("\nall {count} artifacts pass every check\n"))?;
                Ok(ExitCode::SUCCESS)
            } else {
                for violation in &outcome.violations {
                    eprintln!("lambda-pack: {violation}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
        "report" => {
            let f = Flags::parse(rest, &[("--artifacts", false)])?;
            let path = f.path("--artifacts")?.join(manifest::FILE_NAME);
            out(&report::render(&Manifest::read(&path)?))?;
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Error::Usage(format!("unknown command \"{other}\""))),
    }
}

fn write_archive(target: &Path, bytes: &[u8]) -> Result<ExitCode, Error> {
    archive::write_file(target, bytes)?;
    out(&format!(
        "{}: {} bytes, base64sha256 {}\n",
        target.display(),
        bytes.len(),
        manifest::base64sha256(bytes)
    ))?;
    Ok(ExitCode::SUCCESS)
}
