//! The size report: one row per artifact against its budget, then each
//! function's total with its layers against the AWS limits.

use crate::manifest::Manifest;

/// `1536` -> `1.5 KiB`; bytes below 1 KiB are shown as such.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Percentage of `budget` still free (negative when over).
pub fn headroom_percent(used: u64, budget: u64) -> f64 {
    if budget == 0 {
        return 0.0;
    }
    (budget as f64 - used as f64) * 100.0 / budget as f64
}

/// A function's unpacked size with all its layers, and its layer count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTotal {
    /// Function name.
    pub name: String,
    /// Function + workspace layers + external layers, unpacked.
    pub unzipped_bytes: u64,
    /// Workspace plus external layers.
    pub layer_count: u64,
}

/// Totals per function from the manifest's recorded sizes; layers missing
/// from the manifest count as zero (`check` reports them separately).
pub fn function_totals(manifest: &Manifest) -> Vec<FunctionTotal> {
    manifest
        .functions
        .iter()
        .map(|(name, f)| {
            let layers: u64 = f
                .layers
                .iter()
                .filter_map(|l| manifest.layers.get(l))
                .map(|l| l.unzipped_bytes)
                .sum();
            let external: u64 = f
                .external_layers
                .iter()
                .filter_map(|l| manifest.external_layers.get(l))
                .map(|l| l.unzipped_bytes)
                .sum();
            FunctionTotal {
                name: name.clone(),
                unzipped_bytes: f.unzipped_bytes + layers + external,
                layer_count: (f.layers.len() + f.external_layers.len()) as u64,
            }
        })
        .collect()
}

/// Aligns `rows` under `header`: the first `left` columns (names) to the
/// left, the rest (numbers) to the right.
fn table(header: &[&str], left: usize, rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i < left {
                out.push_str(&format!("{cell:<w$}"));
            } else {
                out.push_str(&format!("{cell:>w$}"));
            }
            if i + 1 < cells.len() {
                out.push_str("  ");
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// The report printed by `report` and `check`.
pub fn render(manifest: &Manifest) -> String {
    let rows: Vec<Vec<String>> = manifest
        .artifacts()
        .iter()
        .map(|a| {
            let headroom = headroom_percent(a.zip_bytes, a.budget.zip_bytes)
                .min(headroom_percent(a.unzipped_bytes, a.budget.unzipped_bytes));
            vec![
                a.name.to_owned(),
                a.kind.as_str().to_owned(),
                human_size(a.zip_bytes),
                human_size(a.unzipped_bytes),
                human_size(a.budget.zip_bytes),
                human_size(a.budget.unzipped_bytes),
                format!("{headroom:.1}%"),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "artifact",
            "kind",
            "zipped",
            "unzipped",
            "budget zip",
            "budget unzipped",
            "headroom",
        ],
        2,
        &rows,
    );
    let totals = function_totals(manifest);
    if !totals.is_empty() {
        let limits = &manifest.limits;
        let rows: Vec<Vec<String>> = totals
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    human_size(t.unzipped_bytes),
                    human_size(limits.max_unzipped_bytes),
                    format!(
                        "{:.1}%",
                        headroom_percent(t.unzipped_bytes, limits.max_unzipped_bytes)
                    ),
                    format!("{}/{}", t.layer_count, limits.max_layers),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(
            &["function", "with layers", "AWS limit", "headroom", "layers"],
            1,
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use std::path::Path;

    #[test]
    fn human_sizes_use_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(52_428_800), "50.0 MiB");
        assert_eq!(human_size(262_144_000), "250.0 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
    }

    #[test]
    fn headroom_is_negative_when_over_budget() {
        assert_eq!(headroom_percent(25, 100), 75.0);
        assert_eq!(headroom_percent(150, 100), -50.0);
    }

    #[test]
    fn renders_rows_per_artifact_and_totals_per_function() {
        let fixture = include_str!("../tests/fixtures/manifest.json");
        let m = Manifest::from_json(fixture, Path::new("f")).unwrap();
        let text = render(&m);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "artifact   kind          zipped   unzipped  budget zip  budget unzipped  headroom",
                "cors       function   598.0 KiB    1.3 MiB     1.0 MiB          2.0 MiB     33.1%",
                "telemetry  extension  390.6 KiB  878.9 KiB     1.0 MiB          2.0 MiB     57.1%",
                "",
                "function  with layers  AWS limit  headroom  layers",
                "cors          2.2 MiB  250.0 MiB     99.1%     1/5",
            ]
        );
        // cors + telemetry: 1402345 + 900000 bytes, 1 of 5 layers.
        assert_eq!(
            function_totals(&m)[0],
            FunctionTotal {
                name: "cors".into(),
                unzipped_bytes: 2_302_345,
                layer_count: 1
            }
        );
    }
}
