//! Medians and ranges of repeated runs: a shared machine is noisy, so every figure is reported
//! with its spread rather than as one number.

use serde::Serialize;

/// Median and range of repeated measurements.
#[derive(Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

pub fn spread(values: &[f64]) -> Spread {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    Spread {
        median,
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
        n,
    }
}

impl Spread {
    pub fn show(&self, decimals: usize, unit: &str) -> String {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        if self.n == 1 {
            return format!("{:.decimals$}{unit}", self.median);
        }
        format!(
            "{:.decimals$}{unit} ({:.decimals$}–{:.decimals$}, n={})",
            self.median, self.min, self.max, self.n
        )
    }
}

pub fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
