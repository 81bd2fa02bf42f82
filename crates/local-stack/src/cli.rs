//! What the `local-stack` and `e2e` binaries share: usage errors and
//! running their async main on a small runtime.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;

/// Prints `message` (unless empty: `--help`) and `usage` to stderr; exit
/// code 2.
pub fn usage_error(program: &str, message: &str, usage: &str) -> ExitCode {
    let mut err = std::io::stderr().lock();
    if !message.is_empty() {
        let _ = writeln!(err, "{program}: {message}");
    }
    let _ = writeln!(err, "{usage}");
    ExitCode::from(2)
}

/// Runs `main` on a two-worker runtime (the stack's machines have two
/// cores); an error is printed as `program: message`, exit code 1.
pub fn run_main(program: &str, main: impl Future<Output = Result<ExitCode, String>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(main));
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{program}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--dist`, `--bin-dir` and `--root`: where the functions come from, as
/// both binaries take it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactFlags {
    dist: Option<std::path::PathBuf>,
    bin_dir: Option<std::path::PathBuf>,
    root: Option<std::path::PathBuf>,
}

impl ArtifactFlags {
    /// Takes `flag` (reading its value with `value`) when it is one of
    /// them; `Ok(false)` when it is not.
    pub fn accept(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        let slot = match flag {
            "--dist" => &mut self.dist,
            "--bin-dir" => &mut self.bin_dir,
            "--root" => &mut self.root,
            _ => return Ok(false),
        };
        *slot = Some(value()?.into());
        Ok(true)
    }

    /// The artifacts: exactly one of `--dist` and `--bin-dir` (with
    /// `--root`, default `.`).
    pub fn artifacts(self) -> Result<crate::Artifacts, String> {
        match (self.dist, self.bin_dir) {
            (Some(dist), None) => Ok(crate::Artifacts::Dist(dist)),
            (None, Some(bin_dir)) => Ok(crate::Artifacts::Host {
                root: self.root.unwrap_or_else(|| ".".into()),
                bin_dir,
            }),
            _ => Err("give exactly one of --dist and --bin-dir".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_or_bin_dir_with_root() {
        let mut flags = ArtifactFlags::default();
        assert!(
            flags
                .accept("--bin-dir", &mut || Ok("target/debug".into()))
                .unwrap()
        );
        assert!(!flags.accept("--port", &mut || Ok("1".into())).unwrap());
        assert_eq!(
            flags.clone().artifacts().unwrap(),
            crate::Artifacts::Host {
                root: ".".into(),
                bin_dir: "target/debug".into()
            }
        );
        assert!(flags.accept("--dist", &mut || Ok("dist".into())).unwrap());
        assert!(flags.artifacts().unwrap_err().contains("exactly one"));
        assert!(
            ArtifactFlags::default()
                .accept("--dist", &mut || Err("--dist needs a value".into()))
                .is_err()
        );
    }
}
