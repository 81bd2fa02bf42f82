//! docs/benchmarks.svg: two grouped bar panels (zip size, cold start), ours
//! next to Python per function, on log scales with the values written on the
//! bars. Hand-written SVG: no plotting dependency for one chart.

use std::fmt::Write as _;

use lambda_pack::spec::Kind;

use super::model::{MIB, Report};

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 260.0;
const TOP: f64 = 70.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const GAP: f64 = 80.0;
const OURS: &str = "#d9480f";
const PYTHON: &str = "#3776ab";

/// One function's pair of bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub label: String,
    pub ours: f64,
    pub python: f64,
}

/// A panel: title, unit, groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub unit: String,
    pub groups: Vec<Group>,
}

/// The two panels from a report: zip sizes (MiB) and median cold starts (ms)
/// of every function measured on both sides.
pub fn panels(report: &Report) -> Vec<Panel> {
    let Some(py) = &report.python else {
        return Vec::new();
    };
    let mut sizes = Vec::new();
    let mut starts = Vec::new();
    for m in report.measured.iter().filter(|m| m.kind == Kind::Function) {
        let Some(pf) = py.function(super::model::python_counterpart(&m.name)) else {
            continue;
        };
        if let Some(size) = report.sizes.iter().find(|s| s.name == m.name) {
            sizes.push(Group {
                label: m.name.clone(),
                ours: size.zip_bytes as f64 / MIB as f64,
                python: py.layers_size(&pf.deployed_layers).0 as f64 / MIB as f64,
            });
        }
        starts.push(Group {
            label: m.name.clone(),
            ours: m.ready_ms.median,
            python: pf.ready_ms.median,
        });
    }
    vec![
        Panel {
            title: "Deployed zip size: function vs the Python layer it attached (log scale)".into(),
            unit: "MiB".into(),
            groups: sizes,
        },
        Panel {
            title: "Cold start to ready, median (log scale)".into(),
            unit: "ms".into(),
            groups: starts,
        },
    ]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn label(value: f64, unit: &str) -> String {
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

/// A power-of-ten axis label: `0.1 MiB`, `1 MiB`, `100 ms`.
fn tick(exp: i32, unit: &str) -> String {
    let decimals = usize::try_from(-exp).unwrap_or(0);
    format!("{:.*} {unit}", decimals, 10f64.powi(exp))
}

/// Powers of ten enclosing every positive value: (low, high) exponents.
pub fn log_range(values: impl Iterator<Item = f64>) -> (i32, i32) {
    let positive: Vec<f64> = values.filter(|v| *v > 0.0 && v.is_finite()).collect();
    if positive.is_empty() {
        return (0, 1);
    }
    let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let max = positive.iter().copied().fold(0.0, f64::max);
    let low = min.log10().floor() as i32;
    let high = (max.log10().ceil() as i32).max(low + 1);
    (low, high)
}

fn panel(out: &mut String, p: &Panel, top: f64, note: &str) {
    let bottom = top + PANEL_HEIGHT;
    let width = WIDTH - LEFT - RIGHT;
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}" font-size="15" font-weight="bold">{}</text>"#,
        top - 28.0,
        escape(&p.title)
    );
    let (low, high) = log_range(p.groups.iter().flat_map(|g| [g.ours, g.python]));
    let y = |v: f64| {
        let f = (v.log10() - f64::from(low)) / f64::from(high - low);
        bottom - f.clamp(0.0, 1.0) * PANEL_HEIGHT
    };
    for exp in low..=high {
        let v = 10f64.powi(exp);
        let yy = y(v);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            LEFT + width,
            LEFT - 6.0,
            yy + 4.0,
            escape(&tick(exp, &p.unit))
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#333"/>"##,
        LEFT + width
    );
    if p.groups.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle" fill="#555">{}</text>"##,
            LEFT + width / 2.0,
            top + PANEL_HEIGHT / 2.0,
            escape(note)
        );
        return;
    }
    let slot = width / p.groups.len() as f64;
    let bar = (slot * 0.3).min(60.0);
    for (i, g) in p.groups.iter().enumerate() {
        let center = LEFT + slot * (i as f64 + 0.5);
        for (x, value, color) in [
            (center - bar - 2.0, g.ours, OURS),
            (center + 2.0, g.python, PYTHON),
        ] {
            if value <= 0.0 || !value.is_finite() {
                continue;
            }
            let yy = y(value);
            let _ = writeln!(
                out,
                r##"<rect x="{x:.1}" y="{yy:.1}" width="{bar:.1}" height="{:.1}" fill="{color}"><title>{}</title></rect><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
                bottom - yy,
                escape(&format!("{}: {}", g.label, label(value, &p.unit))),
                x + bar / 2.0,
                yy - 4.0,
                escape(&label(value, &p.unit))
            );
        }
        let ratio = if g.ours > 0.0 {
            format!(" ({:.0}×)", g.python / g.ours)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r#"<text x="{center:.1}" y="{:.1}" font-size="13" text-anchor="middle">{}{}</text>"#,
            bottom + 18.0,
            escape(&g.label),
            escape(&ratio)
        );
    }
}

/// The chart; `caption` names the date and machine.
pub fn render(report: &Report, caption: &str) -> String {
    let panels = panels(report);
    let count = panels.len().max(1) as f64;
    let height = TOP + count * (PANEL_HEIGHT + GAP) + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="24" font-size="17" font-weight="bold">lambda-forge (Rust) vs the Python stack it replaces</text><text x="{LEFT}" y="42" font-size="11" fill="#555">{}</text>"##,
        escape(caption)
    );
    let legend_x = WIDTH - RIGHT - 210.0;
    let _ = writeln!(
        out,
        r##"<rect x="{legend_x:.0}" y="12" width="12" height="12" fill="{OURS}"/><text x="{:.0}" y="22" font-size="12">ours (Rust)</text><rect x="{:.0}" y="12" width="12" height="12" fill="{PYTHON}"/><text x="{:.0}" y="22" font-size="12">Python 3.11</text>"##,
        legend_x + 16.0,
        legend_x + 100.0,
        legend_x + 116.0
    );
    if panels.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{:.0}" font-size="13" fill="#555">No Python baseline in this run (--skip-python or --quick).</text>"##,
            TOP + 40.0
        );
    }
    for (i, p) in panels.iter().enumerate() {
        let top = TOP + 30.0 + i as f64 * (PANEL_HEIGHT + GAP);
        panel(&mut out, p, top, "no function measured on both sides");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::tests::report;

    #[test]
    fn log_ranges_enclose_every_value_in_powers_of_ten() {
        assert_eq!(log_range([0.64, 23.5].into_iter()), (-1, 2));
        assert_eq!(log_range([2.0, 300.0].into_iter()), (0, 3));
        assert_eq!(log_range([5.0].into_iter()), (0, 1));
        assert_eq!(log_range([0.0, f64::NAN].into_iter()), (0, 1));
    }

    #[test]
    fn axis_ticks_are_plain_powers_of_ten() {
        assert_eq!(tick(-1, "MiB"), "0.1 MiB");
        assert_eq!(tick(-2, "ms"), "0.01 ms");
        assert_eq!(tick(0, "ms"), "1 ms");
        assert_eq!(tick(2, "MiB"), "100 MiB");
    }

    #[test]
    fn panels_pair_each_function_with_its_python_counterpart() {
        let p = panels(&report());
        assert_eq!(p.len(), 2);
        let cors_size = &p[0].groups[0];
        assert_eq!(cors_size.label, "cors");
        assert!((cors_size.ours - 670_924.0 / MIB as f64).abs() < 1e-9);
        assert!((cors_size.python - 24_623_407.0 / MIB as f64).abs() < 1e-9);
        assert_eq!(p[1].groups[0].ours, 2.0);
        assert_eq!(p[1].groups[0].python, 21.0);
        assert_eq!(p[1].groups.len(), 1, "users has no Python measurement");
    }

    #[test]
    fn the_chart_is_one_svg_document_with_two_bars_per_function() {
        let svg = render(&report(), "2026-11-28, x86_64 <test>");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            2 + 4,
            "legend + 2 panels × 2 bars"
        );
        assert!(svg.contains("x86_64 &lt;test&gt;"), "captions are escaped");
        assert!(svg.contains(">cors (37×)</text>"), "{svg}");
        assert!(svg.contains(">cors (10×)</text>"), "{svg}");
        assert!(svg.contains(">21.0 ms</text>"), "{svg}");
    }

    #[test]
    fn without_python_the_chart_says_so() {
        let mut r = report();
        r.python = None;
        let svg = render(&r, "c");
        assert!(svg.contains("No Python baseline"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
