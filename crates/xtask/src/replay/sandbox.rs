//! Running a derivation's commands here the way a Nix build sandbox would:
//! no network (a network namespace with only loopback, when we are root),
//! no certificates (/etc/ssl and friends hidden), HOME=/homeless-shelter,
//! stdenv's variables (SSL_CERT_FILE=/no-cert-file.crt unless the derivation
//! sets its own), the derivation's own environment, and a PATH holding only
//! what its inputs provide. Store paths of the derivation's inputs are
//! staged in a directory of their own: each package's programs linked to
//! this machine's, its files copied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::plan::{Drv, Plan};
use crate::run::{on_path, probe};

/// What stdenv puts on every builder's PATH (Linux): coreutils, findutils,
/// diffutils, sed, grep, gawk, tar, gzip, bzip2, xz, make, patch, bash, and
/// the C compiler wrapper. Not git, curl or python.
pub const STDENV_PROGRAMS: &[&str] = &[
    "bash",
    "sh",
    "cat",
    "cp",
    "mv",
    "rm",
    "ln",
    "ls",
    "mkdir",
    "rmdir",
    "chmod",
    "touch",
    "echo",
    "printf",
    "test",
    "[",
    "true",
    "false",
    "env",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "tr",
    "cut",
    "tee",
    "date",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "mktemp",
    "stat",
    "sleep",
    "id",
    "uname",
    "sha256sum",
    "cmp",
    "diff",
    "find",
    "xargs",
    "sed",
    "grep",
    "awk",
    "tar",
    "gzip",
    "bzip2",
    "xz",
    "make",
    "patch",
    "expr",
    "seq",
    "nproc",
    "od",
    "install",
    "dd",
    "du",
    "cc",
    "c++",
    "gcc",
    "g++",
    "ld",
    "ar",
    "as",
    "nm",
    "ranlib",
    "strip",
    "objcopy",
];

/// Packages crane adds for its own hooks (copying and compressing the target
/// dir), which the replay does itself: staged when this machine has them.
const CRANE_HOOK_TOOLS: &[&str] = &["rsync", "zstd"];

/// The CA bundle and the directories a Linux system keeps certificates in
/// (hidden inside the namespace).
const CERT_DIRS: &[&str] = &[
    "/etc/ssl",
    "/etc/pki",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
    "/usr/lib/ssl",
];

/// The programs and files of this machine that stand in for packages.
#[derive(Debug, Clone)]
pub struct Host {
    /// The pinned toolchain's bin directory (not rustup's proxies: they need
    /// HOME).
    pub toolchain_bin: PathBuf,
    /// This machine's CA bundle, copied before the namespace hides it.
    pub ca_bundle: Option<PathBuf>,
    /// Programs resolved by name, overriding PATH lookups.
    pub programs: BTreeMap<String, PathBuf>,
    /// Derivations of the flake's own (nix/zig.nix) that stand for a
    /// program this machine has: pname -> programs.
    pub by_pname: BTreeMap<String, Vec<String>>,
}

impl Host {
    pub fn discover() -> anyhow::Result<Self> {
        let sysroot = probe(Command::new("rustc").args(["--print", "sysroot"]))
            .context("rustc --print sysroot failed")?;
        let toolchain_bin = PathBuf::from(sysroot.trim()).join("bin");
        let ca_bundle = [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
        let mut programs = BTreeMap::new();
        // Python programs through the interpreter that has them (pyenv's
        // shims need HOME).
        if let Some(exe) =
            probe(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]))
        {
            let exe = PathBuf::from(exe.trim());
            if let Some(dir) = exe.parent() {
                programs.insert("python3".to_owned(), exe.clone());
                for program in ["moto_server", "cargo-zigbuild"] {
                    let path = dir.join(program);
                    if path.is_file() {
                        programs.insert(program.to_owned(), path);
                    }
                }
            }
        }
        // The pinned zig inside the ziglang package, as nix/zig.nix unpacks it.
        if let Some(zig) = probe(Command::new("python3").args([
            "-c",
            "import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))",
        ])) {
            programs.insert("zig".to_owned(), PathBuf::from(zig.trim()));
        }
        if let Some(qemu) = crate::prereq::qemu_runner(lambda_pack::elf::Machine::Aarch64)
            && let Some(path) = which(&qemu)
        {
            programs.insert("qemu-aarch64".to_owned(), path);
        }
        let by_pname = BTreeMap::from([
            ("zig".to_owned(), vec!["zig".to_owned()]),
            (
                "cargo-zigbuild".to_owned(),
                vec!["cargo-zigbuild".to_owned()],
            ),
        ]);
        Ok(Self {
            toolchain_bin,
            ca_bundle,
            programs,
            by_pname,
        })
    }

    /// Where `program` is on this machine.
    pub fn program(&self, program: &str, toolchain: bool) -> Option<PathBuf> {
        if toolchain {
            let path = self.toolchain_bin.join(program);
            return path.is_file().then_some(path);
        }
        self.programs
            .get(program)
            .cloned()
            .or_else(|| which(program))
    }
}

/// `program` on PATH, skipping pyenv's and rustup's shims (they need HOME).
pub fn which(program: &str) -> Option<PathBuf> {
    if !on_path(program) {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| {
            let d = dir.to_string_lossy();
            !d.contains(".pyenv/shims") && !d.ends_with(".cargo/bin")
        })
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// One build directory (NIX_BUILD_TOP) with its staged store.
#[derive(Debug)]
pub struct Build {
    pub top: PathBuf,
    store: PathBuf,
    /// Store path prefix -> where it is staged.
    rewrites: Vec<(String, String)>,
    /// PATH directories, in order.
    path: Vec<PathBuf>,
}

/// How a derivation's environment is adapted.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Store paths (an output) to a directory or file here (e.g. a zip
    /// package to a directory holding dist's zip).
    pub outputs: BTreeMap<String, PathBuf>,
    /// Variables set after the derivation's own (e.g. CARGO_TARGET_DIR, to
    /// reuse the other CI steps' builds).
    pub vars: BTreeMap<String, String>,
    /// Stage only what this machine has: for replays that run cargo alone
    /// (lock resolution), not the derivation's own commands.
    pub lenient: bool,
}

impl Build {
    /// A fresh build directory under `dir` for `drv`, with its inputs staged.
    pub fn new(
        dir: &Path,
        plan: &Plan,
        drv: &Drv,
        host: &Host,
        overrides: &Overrides,
    ) -> anyhow::Result<Self> {
        let top = dir.join(sanitize(drv.name()));
        if top.exists() {
            std::fs::remove_dir_all(&top).with_context(|| format!("removing {}", top.display()))?;
        }
        let store = top.join("store");
        std::fs::create_dir_all(store.join("empty"))?;
        std::fs::create_dir_all(top.join("tmp"))?;
        let mut build = Self {
            top,
            store,
            rewrites: Vec::new(),
            path: Vec::new(),
        };
        for (out, local) in &overrides.outputs {
            build
                .rewrites
                .push((out.clone(), local.display().to_string()));
        }
        // Everything the derivation reaches, scripts last: their text names
        // the other store paths.
        let mut closure: Vec<&Drv> = plan
            .closure(drv)
            .into_iter()
            .filter(|d| d.path != drv.path && !overrides.outputs.contains_key(d.out()))
            .collect();
        closure.sort_by_key(|d| d.kind() == "script");
        let direct: Vec<String> = drv
            .list("nativeBuildInputs")
            .into_iter()
            .chain(drv.list("buildInputs"))
            .chain(drv.list("packages"))
            .collect();
        for input in closure {
            let required = !overrides.lenient
                && direct.iter().any(|o| o == input.out())
                && !CRANE_HOOK_TOOLS.contains(&input.var("pname").unwrap_or_default());
            build.stage(input, host, required)?;
        }
        // PATH: the inputs' bin directories, in the derivation's order, then
        // stdenv's own programs.
        for out in drv
            .list("nativeBuildInputs")
            .into_iter()
            .chain(drv.list("buildInputs"))
            .chain(drv.list("packages"))
        {
            let local = build.rewrite(&out);
            let bin = PathBuf::from(local).join("bin");
            if bin.is_dir() {
                build.path.push(bin);
            }
        }
        let stdenv = build.store.join("stdenv/bin");
        std::fs::create_dir_all(&stdenv)?;
        for program in STDENV_PROGRAMS {
            if let Some(path) = host.program(program, false) {
                symlink(&path, &stdenv.join(program))?;
            }
        }
        build.path.push(stdenv);
        Ok(build)
    }

    /// Stages one input; a program this machine lacks fails the replay when
    /// the input is on the derivation's PATH (`required`), else is left out.
    fn stage(&mut self, input: &Drv, host: &Host, required: bool) -> anyhow::Result<()> {
        let out = input.out().to_owned();
        let base = out.rsplit('/').next().unwrap_or_default().to_owned();
        let local = self.store.join(&base);
        let pname = input.var("pname").unwrap_or_default();
        let flake_tool = host
            .by_pname
            .get(pname)
            .filter(|_| input.kind() == "derivation");
        match input.kind() {
            _ if flake_tool.is_some() => {
                let bin = local.join("bin");
                std::fs::create_dir_all(&bin)?;
                for program in flake_tool.into_iter().flatten() {
                    match host.program(program, false) {
                        Some(found) => symlink(&found, &bin.join(program))?,
                        None if required => bail!(
                            "the replay cannot provide `{program}` of {}: not on this machine",
                            input.name()
                        ),
                        None => {}
                    }
                }
            }
            "package" | "toolchain" => {
                let bin = local.join("bin");
                std::fs::create_dir_all(&bin)?;
                for program in input.bins() {
                    match host.program(&program, input.kind() == "toolchain") {
                        Some(found) => symlink(&found, &bin.join(&program))?,
                        None if required => bail!(
                            "the replay cannot provide `{program}` of {}: not on this machine",
                            input.name()
                        ),
                        None => {}
                    }
                }
                for (file, what) in input.files() {
                    let target = local.join(&file);
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    match what.as_str() {
                        "ca-bundle" => {
                            let bundle = host
                                .ca_bundle
                                .as_ref()
                                .context("no CA bundle on this machine for nss-cacert")?;
                            std::fs::copy(bundle, &target)?;
                        }
                        other => bail!("{}: unknown file kind {other}", input.name()),
                    }
                }
            }
            "script" => {
                let text = input.recorded("text").unwrap_or_default();
                std::fs::write(&local, format!("#!/bin/bash\n{}", self.rewrite(text)))?;
                set_executable(&local)?;
            }
            // Hooks are the prelude the replay writes itself; anything else
            // (dependency builds, sources) stays a store path: a command
            // that needs it fails, which the replay reports.
            _ => {
                std::fs::create_dir_all(&local)?;
            }
        }
        self.rewrites.push((out, local.display().to_string()));
        Ok(())
    }

    /// `text` with every staged store path replaced by where it is here.
    pub fn rewrite(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.rewrites {
            text = text.replace(from, to);
        }
        text
    }

    /// The environment of `drv` as the builder sees it: stdenv's variables,
    /// the derivation's, then the overrides.
    pub fn environment(&self, drv: &Drv, overrides: &Overrides) -> BTreeMap<String, String> {
        let tmp = self.top.join("tmp").display().to_string();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in [
            ("HOME", "/homeless-shelter".to_owned()),
            ("NIX_BUILD_TOP", self.top.display().to_string()),
            ("NIX_STORE", "/nix/store".to_owned()),
            ("TMPDIR", tmp.clone()),
            ("TEMPDIR", tmp.clone()),
            ("TMP", tmp.clone()),
            ("TEMP", tmp),
            ("NIX_BUILD_CORES", nproc()),
            // stdenv's
            ("SOURCE_DATE_EPOCH", "315532800".to_owned()),
            ("SSL_CERT_FILE", "/no-cert-file.crt".to_owned()),
        ] {
            env.insert(k.to_owned(), v);
        }
        for (k, v) in &drv.env {
            if k.starts_with("__") || k == "builder" || k == "args" {
                continue;
            }
            env.insert(k.clone(), self.rewrite(v));
        }
        env.insert("out".to_owned(), self.top.join("out").display().to_string());
        let path: Vec<String> = self.path.iter().map(|p| p.display().to_string()).collect();
        env.insert("PATH".to_owned(), path.join(":"));
        for (k, v) in &overrides.vars {
            env.insert(k.clone(), v.clone());
        }
        env
    }

    /// Runs `script` (bash, errexit) in `cwd` with `env`, isolated when
    /// possible. Output goes to our stdout/stderr.
    pub fn run(
        &self,
        script: &str,
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let env_file = self.top.join("env.sh");
        let mut vars = String::new();
        for (k, v) in env {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
                continue;
            }
            vars.push_str(&format!("export {k}={}\n", shell_quote(v)));
        }
        std::fs::write(&env_file, vars)?;
        let builder = self.top.join("builder.sh");
        let isolated = isolation_available();
        let mut text = String::from("#!/bin/bash\n");
        if isolated {
            text.push_str(&isolation_prelude());
        }
        text.push_str(&format!(
            "set -eu -o pipefail\nsource {}\ncd {}\n{}\n",
            shell_quote(&env_file.display().to_string()),
            shell_quote(&cwd.display().to_string()),
            script
        ));
        std::fs::write(&builder, text)?;
        let mut command = if isolated {
            let mut c = Command::new("unshare");
            c.args(["--net", "--mount", "--fork", "--"]);
            c.arg("/usr/bin/env");
            c
        } else {
            Command::new("/usr/bin/env")
        };
        command
            .args(["-i", "/bin/bash", "--noprofile", "--norc"])
            .arg(&builder);
        let status = command
            .status()
            .with_context(|| format!("cannot start the replay of {}", builder.display()))?;
        if !status.success() {
            bail!(
                "failed ({status}); the builder script is {}",
                builder.display()
            );
        }
        Ok(())
    }
}

/// Whether this process may create a network and mount namespace.
pub fn isolation_available() -> bool {
    std::env::var_os("LAMBDA_FORGE_REPLAY_NO_NAMESPACE").is_none()
        && Path::new("/usr/bin/unshare").is_file()
        && Command::new("unshare")
            .args(["--net", "--mount", "--fork", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// Inside the namespace: loopback up (moto and the fakes listen there),
/// every certificate directory hidden, as in the sandbox.
fn isolation_prelude() -> String {
    let mut text =
        String::from("/usr/sbin/ip link set lo up 2>/dev/null || /sbin/ip link set lo up\n");
    for dir in CERT_DIRS {
        text.push_str(&format!(
            "if [ -d {dir} ]; then /bin/mount -t tmpfs -o size=1m replay-hidden {dir}; fi\n"
        ));
    }
    text
}

fn nproc() -> String {
    std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "1".to_owned())
}

pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn symlink(target: &Path, link: &Path) -> anyhow::Result<()> {
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link)?;
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

/// Makes `path` executable (0755).
pub fn set_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_bash() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_namespace_hides_every_certificate_directory_and_raises_loopback() {
        let prelude = isolation_prelude();
        assert!(prelude.starts_with("/usr/sbin/ip link set lo up"));
        for dir in CERT_DIRS {
            assert!(prelude.contains(&format!("replay-hidden {dir};")), "{dir}");
        }
    }

    #[test]
    fn stdenv_has_no_git_curl_or_python() {
        for program in ["git", "curl", "python3", "wget"] {
            assert!(!STDENV_PROGRAMS.contains(&program), "{program}");
        }
    }
}
