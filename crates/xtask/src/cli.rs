//! Argument parsing (no dependencies: the grammar is small and fixed).

use std::path::PathBuf;

use lambda_pack::elf::Machine;

use crate::local::{E2eArgs, LocalArgs};

pub const USAGE: &str = "\
usage: cargo xtask <command>

  setup                      install the prerequisites (Debian/Ubuntu); quiet when all are present
  dist [--target <triple>|host] [--out dist] [--only name,...]
                             build every artifact (or those named, with their layers), package, write manifest.json, check, report
  check [--dist dist] [--machine aarch64|x86_64]
                             check dist/ against its manifest and print the size report
  smoke [--dist dist]        boot every artifact in dist/ against the Lambda API emulator
  repro [--only name,...]    build dist twice, from here and from a copy elsewhere; compare hashes
  bench [--quick] [--no-build] [--skip-python] [--skip-micro] [--skip-qemu] [--only name,...]
        [--dist dist] [--host-dist target/bench/dist-host] [--out docs] [--starts 20] [--invocations 1000]
                             cold starts, peak RSS, warm latency, micro-benchmarks and sizes, side by side
                             with the Python stack; writes docs/benchmarks.md and docs/benchmarks.svg
  bench --variants all|adopted,ring,opt-z,ring-opt-z,panic-abort [--only sms,sms-worker] [--no-build]
        [--rounds 5] [--starts 20] [--invocations 1000] [--out docs]
                             rebuild the size variants (ring provider, opt-level z, panic abort) next to
                             the adopted build; sizes and native cold starts in docs/benchmarks-variants.md
                             and the README's variants table
  local [--dist dist|--host] [--port 4080] [--site lambda-forge.localhost]
        [--credential-source cookie|authorization] [--authorizer-ttl 300]
                             the whole API on loopback (moto, Cognito stand-in, Twilio and OpenAI fakes,
                             every function, the local API Gateway) until Ctrl-C; dist/ zips when present
  e2e [--dist dist|--host] [--only case,...]
                             the end-to-end suite against the local stack, headless Chromium included
  nix-replay [--phase eval,test,boot,artifact,local,controls] [--dist dist]
                             the flake's builds without Nix: evaluate every output for the three systems
                             through stand-in inputs, check its rules, replay lock resolution, the test
                             suite, the boot checks, one artifact build and `nix run .#local` under a Nix
                             sandbox's conditions; negative controls
  ci                         everything CI runs, in order, stopping at the first failure";

/// What to build for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildTarget {
    /// A Rust target triple, built with cargo-zigbuild.
    Triple(String),
    /// The machine xtask runs on, built with plain `cargo build`.
    Host,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Setup,
    Dist {
        /// `None` means the workspace's declared target.
        target: Option<BuildTarget>,
        out: PathBuf,
        /// Artifact names to build; empty means all.
        only: Vec<String>,
    },
    Check {
        dist: PathBuf,
        machine: Option<Machine>,
    },
    Smoke {
        dist: PathBuf,
    },
    Repro {
        /// Artifact names to compare; empty means all.
        only: Vec<String>,
    },
    Ci,
    Bench(BenchArgs),
    Local(LocalArgs),
    E2e(E2eArgs),
    NixReplay {
        /// Empty means every phase.
        phases: Vec<String>,
        dist: PathBuf,
    },
}

/// `cargo xtask bench` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchArgs {
    /// A fast self-check: 3 starts, 20 invocations, no qemu, no criterion, no
    /// Python; writes under target/bench/quick instead of docs/.
    pub quick: bool,
    /// Reuse the existing host and aarch64 dist directories; fail when missing.
    pub no_build: bool,
    pub skip_python: bool,
    pub skip_micro: bool,
    pub skip_qemu: bool,
    /// Artifact names to benchmark; empty means all.
    pub only: Vec<String>,
    /// The aarch64 dist (sizes and the qemu check).
    pub dist: PathBuf,
    /// The host-target dist the native timings use.
    pub host_dist: PathBuf,
    /// Where benchmarks.md and benchmarks.svg go (`None`: docs/, or
    /// target/bench/quick with --quick).
    pub out: Option<PathBuf>,
    pub starts: Option<usize>,
    pub invocations: Option<usize>,
    /// `--variants all|name,...`: measure the size and cold-start variants
    /// of `bench/variants.rs` instead of the usual report.
    pub variants: Option<Vec<String>>,
    /// With `--variants`: how many times every variant is measured, the
    /// variants interleaved in each round.
    pub rounds: Option<usize>,
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((name, rest)) = args.split_first() else {
        return Err("missing command".into());
    };
    let mut flags = Flags::parse(rest)?;
    let command = match name.as_str() {
        "help" | "--help" | "-h" => Command::Help,
        "setup" => Command::Setup,
        "dist" => Command::Dist {
            target: flags
                .take("--target")
                .map(|t| parse_target(&t))
                .transpose()?,
            out: flags.path("--out", "dist"),
            only: take_list(&mut flags, "--only"),
        },
        "check" => Command::Check {
            dist: flags.path("--dist", "dist"),
            machine: flags
                .take("--machine")
                .map(|m| {
                    Machine::from_name(&m)
                        .ok_or_else(|| format!("--machine: expected aarch64 or x86_64, got {m:?}"))
                })
                .transpose()?,
        },
        "smoke" => Command::Smoke {
            dist: flags.path("--dist", "dist"),
        },
        "repro" => Command::Repro {
            only: take_list(&mut flags, "--only"),
        },
        "ci" => Command::Ci,
        "local" => {
            let dist = flags.take("--dist").map(PathBuf::from);
            let host = flags.switch("--host");
            let mut stack_flags = Vec::new();
            for flag in [
                "--port",
                "--site",
                "--credential-source",
                "--authorizer-ttl",
            ] {
                if let Some(value) = flags.take(flag) {
                    stack_flags.push(flag.to_owned());
                    stack_flags.push(value);
                }
            }
            Command::Local(LocalArgs {
                dist,
                host,
                stack_flags,
            })
        }
        "e2e" => Command::E2e(E2eArgs {
            dist: flags.take("--dist").map(PathBuf::from),
            host: flags.switch("--host"),
            only: take_list(&mut flags, "--only"),
        }),
        "nix-replay" => Command::NixReplay {
            phases: take_list(&mut flags, "--phase"),
            dist: flags.path("--dist", "dist"),
        },
        "bench" => Command::Bench(BenchArgs {
            quick: flags.switch("--quick"),
            no_build: flags.switch("--no-build"),
            skip_python: flags.switch("--skip-python"),
            skip_micro: flags.switch("--skip-micro"),
            skip_qemu: flags.switch("--skip-qemu"),
            only: take_list(&mut flags, "--only"),
            dist: flags.path("--dist", "dist"),
            host_dist: flags.path("--host-dist", "target/bench/dist-host"),
            out: flags.take("--out").map(PathBuf::from),
            starts: flags.count("--starts")?,
            invocations: flags.count("--invocations")?,
            variants: flags.take("--variants").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            rounds: flags.count("--rounds")?,
        }),
        other => return Err(format!("unknown command {other:?}")),
    };
    flags.finish(name)?;
    if let Command::Bench(args) = &command
        && args.rounds.is_some()
        && args.variants.is_none()
    {
        return Err("--rounds applies to `bench --variants` only".into());
    }
    Ok(command)
}

fn take_list(flags: &mut Flags, flag: &str) -> Vec<String> {
    flags
        .take(flag)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn parse_target(value: &str) -> Result<BuildTarget, String> {
    match value {
        "host" => Ok(BuildTarget::Host),
        triple if triple.split('-').count() >= 3 && !triple.contains(char::is_whitespace) => {
            Ok(BuildTarget::Triple(triple.to_owned()))
        }
        other => Err(format!(
            "--target: expected a target triple or `host`, got {other:?}"
        )),
    }
}

/// Flags that take no value.
const SWITCHES: &[&str] = &[
    "--host",
    "--quick",
    "--no-build",
    "--skip-python",
    "--skip-micro",
    "--skip-qemu",
];

/// `--flag value` pairs (and value-less [`SWITCHES`]), each flag at most once.
struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut iter = args.iter();
        while let Some(flag) = iter.next() {
            if !flag.starts_with("--") {
                return Err(format!("unexpected argument {flag:?}"));
            }
            let (flag, value) = match flag.split_once('=') {
                Some((f, v)) => (f.to_owned(), v.to_owned()),
                None if SWITCHES.contains(&flag.as_str()) => (flag.clone(), "true".to_owned()),
                None => (
                    flag.clone(),
                    iter.next()
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a value"))?,
                ),
            };
            if pairs.iter().any(|(f, _)| *f == flag) {
                return Err(format!("{flag} given twice"));
            }
            pairs.push((flag, value));
        }
        Ok(Self(pairs))
    }

    fn take(&mut self, flag: &str) -> Option<String> {
        let index = self.0.iter().position(|(f, _)| f == flag)?;
        Some(self.0.remove(index).1)
    }

    fn switch(&mut self, flag: &str) -> bool {
        self.take(flag).is_some()
    }

    /// A positive whole number.
    fn count(&mut self, flag: &str) -> Result<Option<usize>, String> {
        self.take(flag)
            .map(|v| match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!(
                    "{flag}: expected a positive whole number, got {v:?}"
                )),
            })
            .transpose()
    }

    fn path(&mut self, flag: &str, default: &str) -> PathBuf {
        PathBuf::from(self.take(flag).unwrap_or_else(|| default.to_owned()))
    }

    fn finish(self, command: &str) -> Result<(), String> {
        match self.0.first() {
            Some((flag, _)) => Err(format!("`{command}` does not take {flag}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    #[test]
    fn dist_defaults_to_the_declared_target_and_dist_dir() {
        assert_eq!(
            parse_str("dist"),
            Ok(Command::Dist {
                target: None,
                out: "dist".into(),
                only: vec![]
            })
        );
    }

    #[test]
    fn dist_takes_a_triple_or_host_and_an_out_dir() {
        assert_eq!(
            parse_str("dist --target aarch64-unknown-linux-musl --out /tmp/d"),
            Ok(Command::Dist {
                target: Some(BuildTarget::Triple("aarch64-unknown-linux-musl".into())),
                out: "/tmp/d".into(),
                only: vec![]
            })
        );
        assert_eq!(
            parse_str("dist --target=host"),
            Ok(Command::Dist {
                target: Some(BuildTarget::Host),
                out: "dist".into(),
                only: vec![]
            })
        );
    }

    #[test]
    fn dist_only_takes_a_comma_separated_list() {
        assert_eq!(
            parse_str("dist --only cors,telemetry"),
            Ok(Command::Dist {
                target: None,
                out: "dist".into(),
                only: vec!["cors".into(), "telemetry".into()]
            })
        );
    }

    #[test]
    fn a_target_that_is_not_a_triple_is_rejected() {
        assert!(
            parse_str("dist --target arm64")
                .unwrap_err()
                .contains("target triple")
        );
    }

    #[test]
    fn check_takes_a_dist_dir_and_a_machine() {
        assert_eq!(
            parse_str("check --dist out --machine x86_64"),
            Ok(Command::Check {
                dist: "out".into(),
                machine: Some(Machine::X86_64)
            })
        );
        assert!(
            parse_str("check --machine arm64")
                .unwrap_err()
                .contains("--machine")
        );
    }

    #[test]
    fn commands_without_flags_parse() {
        assert_eq!(parse_str("setup"), Ok(Command::Setup));
        assert_eq!(parse_str("repro"), Ok(Command::Repro { only: vec![] }));
        assert_eq!(
            parse_str("repro --only cors"),
            Ok(Command::Repro {
                only: vec!["cors".into()]
            })
        );
        assert_eq!(parse_str("ci"), Ok(Command::Ci));
        assert_eq!(
            parse_str("smoke"),
            Ok(Command::Smoke {
                dist: "dist".into()
            })
        );
    }

    #[test]
    fn bench_defaults_to_the_full_run_into_docs() {
        assert_eq!(
            parse_str("bench"),
            Ok(Command::Bench(BenchArgs {
                quick: false,
                no_build: false,
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
            }))
        );
    }

    #[test]
    fn bench_switches_take_no_value_and_counts_must_be_positive() {
        let Ok(Command::Bench(args)) =
            parse_str("bench --quick --no-build --only cors --starts 5 --skip-python")
        else {
            panic!("bench did not parse");
        };
        assert!(args.quick && args.no_build && args.skip_python);
        assert!(!args.skip_micro && !args.skip_qemu);
        assert_eq!(args.only, ["cors"]);
        assert_eq!(args.starts, Some(5));
        assert_eq!(args.variants, None);
        let Ok(Command::Bench(args)) = parse_str("bench --variants ring,opt-z --only sms") else {
            panic!("bench --variants did not parse");
        };
        assert_eq!(args.variants, Some(vec!["ring".into(), "opt-z".into()]));
        assert!(parse_str("bench --variants").is_err());
        let Ok(Command::Bench(args)) = parse_str("bench --variants all --rounds 3") else {
            panic!("bench --variants --rounds did not parse");
        };
        assert_eq!(args.rounds, Some(3));
        assert!(
            parse_str("bench --rounds 3")
                .unwrap_err()
                .contains("applies to `bench --variants` only")
        );
        assert!(
            parse_str("bench --starts 0")
                .unwrap_err()
                .contains("positive whole number")
        );
        assert!(
            parse_str("dist --quick")
                .unwrap_err()
                .contains("does not take --quick")
        );
    }

    #[test]
    fn local_passes_the_stack_flags_on_and_takes_dist_or_host() {
        assert_eq!(
            parse_str("local --port 0 --credential-source authorization"),
            Ok(Command::Local(LocalArgs {
                dist: None,
                host: false,
                stack_flags: vec![
                    "--port".into(),
                    "0".into(),
                    "--credential-source".into(),
                    "authorization".into()
                ],
            }))
        );
        assert_eq!(
            parse_str("local --host"),
            Ok(Command::Local(LocalArgs {
                dist: None,
                host: true,
                stack_flags: vec![],
            }))
        );
        assert!(
            parse_str("local --only x")
                .unwrap_err()
                .contains("does not take --only")
        );
    }

    #[test]
    fn e2e_takes_dist_host_and_cases() {
        assert_eq!(
            parse_str("e2e --dist out --only browser,cors"),
            Ok(Command::E2e(E2eArgs {
                dist: Some("out".into()),
                host: false,
                only: vec!["browser".into(), "cors".into()],
            }))
        );
        assert_eq!(parse_str("e2e"), Ok(Command::E2e(E2eArgs::default())));
    }

    #[test]
    fn unknown_commands_flags_and_repeated_flags_are_usage_errors() {
        assert!(parse_str("").unwrap_err().contains("missing command"));
        assert!(parse_str("deploy").unwrap_err().contains("unknown command"));
        assert!(
            parse_str("ci --fast x")
                .unwrap_err()
                .contains("does not take --fast")
        );
        assert!(
            parse_str("dist --out a --out b")
                .unwrap_err()
                .contains("given twice")
        );
        assert!(
            parse_str("dist --out")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse_str("smoke extra")
                .unwrap_err()
                .contains("unexpected argument")
        );
    }
}
