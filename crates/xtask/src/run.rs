//! Running external commands: echo them, fail with their exit status.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// A command line as it would be typed, for logs and error messages.
pub fn display(program: &OsStr, args: &[impl AsRef<OsStr>]) -> String {
    let mut line = quote(&program.to_string_lossy());
    for arg in args {
        line.push(' ');
        line.push_str(&quote(&arg.as_ref().to_string_lossy()));
    }
    line
}

fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs `command` with inherited stdio, printing it first; fails unless it
/// exits 0.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let line = describe(command);
    eprintln!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `command` quietly and returns its stdout; `None` if it cannot start or
/// fails. For probing tools.
pub fn probe(command: &mut Command) -> Option<String> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether `program` is an executable file on `PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        candidate.is_file()
            && std::fs::metadata(&candidate).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    })
}

pub fn describe(command: &Command) -> String {
    let args: Vec<&OsStr> = command.get_args().collect();
    display(command.get_program(), &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_only_what_needs_quoting() {
        let line = display(
            OsStr::new("pip"),
            &["install", "moto[server]", "a b", "it's"],
        );
        assert_eq!(line, r"pip install 'moto[server]' 'a b' 'it'\''s'");
    }

    #[test]
    fn a_failing_command_names_itself_in_the_error() {
        let err = run(Command::new("false").arg("--flag"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`false --flag` failed"), "{err}");
    }

    #[test]
    fn probing_returns_stdout_of_successful_commands_only() {
        assert_eq!(
            probe(Command::new("echo").arg("hi")).as_deref(),
            Some("hi\n")
        );
        assert_eq!(probe(&mut Command::new("false")), None);
        assert_eq!(probe(&mut Command::new("/nonexistent/tool")), None);
    }

    #[test]
    fn on_path_finds_executables_only() {
        assert!(on_path("sh"));
        assert!(!on_path("definitely-not-a-tool-xtask"));
    }
}
