//! The machine and toolchain a benchmark ran on, and when.

use std::process::Command;

/// Where and when the numbers were measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `uname -m`.
    pub arch: String,
    pub cpu_model: String,
    pub cores: usize,
    /// `rustc --version`.
    pub rustc: String,
}

impl HostInfo {
    pub fn detect() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self {
            date: utc_date(seconds),
            arch: command_line("uname", &["-m"])
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_owned()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".to_owned()),
        }
    }

    pub fn is_aarch64(&self) -> bool {
        self.arch == "aarch64" || self.arch == "arm64"
    }
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The CPU name from /proc/cpuinfo: `model name` on x86, else the ARM
/// implementer/part (Graviton and other Neoverse cores print no name).
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    let field = |key: &str| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    field("model name").or_else(|| field("Model")).or_else(|| {
        match (field("CPU implementer"), field("CPU part")) {
            (Some(implementer), Some(part)) => {
                Some(format!("ARM implementer {implementer} part {part}"))
            }
            _ => None,
        }
    })
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
pub fn utc_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let (year, month, day) = lambda_pack::archive::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(315_532_800), "1980-01-01 00:00 UTC");
        // 2024-02-29 12:34 UTC: a leap day.
        assert_eq!(utc_date(1_709_210_040), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn the_cpu_model_is_the_x86_model_name() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
    }

    #[test]
    fn arm_cores_without_a_name_are_named_by_implementer_and_part() {
        let cpuinfo =
            "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("ARM implementer 0x41 part 0xd0c")
        );
        assert_eq!(cpu_model(""), None);
    }
}
