//! Order statistics of timing samples.

/// The spread of a sample set (values in the samples' unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// `p` (0..=1) of sorted samples, interpolating linearly between the two
/// nearest ranks (numpy's default), so small sets still give sensible tails.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let position = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// `None` for an empty set; NaNs are dropped (they cannot be ordered).
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        n: sorted.len(),
        min: sorted[0],
        p10: percentile(&sorted, 0.10),
        median: percentile(&sorted, 0.50),
        p90: percentile(&sorted, 0.90),
        p99: percentile(&sorted, 0.99),
        max: sorted[sorted.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_odd_set_is_the_middle_value_whatever_the_order() {
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.max), (3, 1.0, 3.0, 5.0));
    }

    #[test]
    fn median_of_an_even_set_interpolates_between_the_middle_values() {
        assert_eq!(summarize(&[1.0, 2.0, 3.0, 4.0]).unwrap().median, 2.5);
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let samples: Vec<f64> = (1..=11).map(f64::from).collect();
        let s = summarize(&samples).unwrap();
        assert_eq!(s.p10, 2.0);
        assert_eq!(s.p90, 10.0);
        assert!((s.p99 - 10.9).abs() < 1e-9, "{}", s.p99);
    }

    #[test]
    fn a_single_sample_is_every_statistic() {
        let s = summarize(&[7.0]).unwrap();
        assert_eq!(
            (s.min, s.p10, s.median, s.p90, s.p99, s.max),
            (7.0, 7.0, 7.0, 7.0, 7.0, 7.0)
        );
    }

    #[test]
    fn an_empty_or_all_nan_set_has_no_summary() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
        assert_eq!(summarize(&[f64::NAN, 2.0]).unwrap().n, 1);
    }
}
