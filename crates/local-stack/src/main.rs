//! `local-stack`: runs the whole API on loopback until Ctrl-C (what
//! `cargo xtask local` starts).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use local_stack::{CredentialSource, DEFAULT_PORT, DEFAULT_SITE, LogSink, Stack, StackConfig, cli};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "\
usage: local-stack (--dist <dir> | --bin-dir <dir>) [--root <workspace>] [--port 4080]
                   [--site lambda-forge.localhost] [--credential-source cookie|authorization]
                   [--authorizer-ttl <seconds>]

  --dist <dir>         run the functions from the zips of a `cargo xtask dist` directory
  --bin-dir <dir>      run host builds instead (`cargo build`), e.g. target/debug
  --root <dir>         the workspace declaring the functions (host builds; default .)
  --port <n>           port of the app and the API on 127.0.0.1 (0: any free port; default 4080)
  --site <name>        app.<site> and api.<site> (default lambda-forge.localhost)
  --credential-source  what the authorizer reads and API Gateway caches on (default cookie)
  --authorizer-ttl     authorizer cache TTL in seconds, 0-3600 (default 300)";

/// How often the printed access token file is renewed (tokens live 1 h).
const TOKEN_RENEWAL: Duration = Duration::from_secs(30 * 60);

fn parse(args: &[String]) -> Result<StackConfig, String> {
    let mut artifacts = cli::ArtifactFlags::default();
    let mut port = DEFAULT_PORT;
    let mut site = DEFAULT_SITE.to_owned();
    let mut credential_source = CredentialSource::Cookie;
    let mut ttl = 300;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        if artifacts.accept(flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--port" => {
                let raw = value()?;
                port = raw
                    .parse()
                    .map_err(|_| format!("--port: {raw:?} is not a port"))?;
            }
            "--site" => {
                site = value()?;
                let valid = site.ends_with(".localhost")
                    && site.split('.').all(|label| {
                        !label.is_empty()
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    });
                if !valid {
                    return Err(format!(
                        "--site: {site:?} must be a lower-case name under .localhost (browsers resolve those to loopback)"
                    ));
                }
            }
            "--credential-source" => credential_source = CredentialSource::parse(&value()?)?,
            "--authorizer-ttl" => {
                let raw = value()?;
                ttl = raw
                    .parse::<u64>()
                    .ok()
                    .filter(|t| *t <= 3600)
                    .ok_or_else(|| format!("--authorizer-ttl: {raw:?} is not 0-3600"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let artifacts = artifacts.artifacts()?;
    let mut config = StackConfig::new(artifacts);
    config.port = port;
    config.site = site;
    config.credential_source = credential_source;
    config.authorizer_ttl = Duration::from_secs(ttl);
    config.log = LogSink::Print;
    Ok(config)
}

async fn write_token(stack: &Stack, file: &Path) {
    match stack.sign_in("alice").await {
        Ok(tokens) => {
            if let Err(err) = std::fs::write(file, &tokens.access_token) {
                stack
                    .config()
                    .log
                    .line("stack", &format!("cannot write {}: {err}", file.display()));
            }
        }
        Err(err) => stack
            .config()
            .log
            .line("stack", &format!("cannot renew alice's token: {err}")),
    }
}

async fn run(config: StackConfig) -> Result<(), String> {
    // Installed before anything starts, so an early Ctrl-C still stops
    // what is running.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let log = config.log.clone();
    let stack = tokio::select! {
        stack = Stack::start(config) => stack.map_err(|e| e.to_string())?,
        _ = interrupt.recv() => return Err("interrupted while starting".into()),
        _ = terminate.recv() => return Err("terminated while starting".into()),
        _ = hangup.recv() => return Err("hung up while starting".into()),
    };
    let token_file = stack.work_dir().join("alice.access_token");
    write_token(&stack, &token_file).await;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{}", stack.summary(Some(&token_file)));
        let _ = writeln!(out, "Ctrl-C stops everything.\n");
    }
    let why = loop {
        tokio::select! {
            _ = interrupt.recv() => break "interrupt",
            _ = terminate.recv() => break "terminate",
            _ = hangup.recv() => break "hangup",
            () = tokio::time::sleep(TOKEN_RENEWAL) => write_token(&stack, &token_file).await,
        }
    };
    log.line("stack", &format!("stopping ({why})"));
    stack.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(config) => cli::run_main("local-stack", async {
            run(config).await.map(|()| ExitCode::SUCCESS)
        }),
        Err(message) => cli::usage_error("local-stack", &message, USAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use local_stack::Artifacts;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn dist_or_bin_dir_and_the_options_parse() {
        let config = parse(&args(
            "--dist dist --port 0 --site x.localhost --credential-source authorization --authorizer-ttl 0",
        ))
        .unwrap();
        assert_eq!(config.artifacts, Artifacts::Dist("dist".into()));
        assert_eq!(config.port, 0);
        assert_eq!(config.site, "x.localhost");
        assert_eq!(config.credential_source, CredentialSource::Authorization);
        assert_eq!(config.authorizer_ttl, Duration::ZERO);
        let config = parse(&args("--bin-dir target/debug")).unwrap();
        assert_eq!(
            config.artifacts,
            Artifacts::Host {
                root: ".".into(),
                bin_dir: "target/debug".into()
            }
        );
        assert_eq!(config.port, DEFAULT_PORT);
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (line, expected) in [
            ("", "exactly one of --dist and --bin-dir"),
            ("--dist a --bin-dir b", "exactly one"),
            ("--dist a --port x", "--port"),
            ("--dist a --site example.com", "under .localhost"),
            (
                "--dist a --credential-source header",
                "cookie or authorization",
            ),
            ("--dist a --authorizer-ttl 3601", "0-3600"),
            ("--dist", "needs a value"),
            ("--nope", "unknown argument"),
        ] {
            let err = parse(&args(line)).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }
}
