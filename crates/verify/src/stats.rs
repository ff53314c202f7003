//! The statistics the metric judge rests on: the Mann-Whitney U (Wilcoxon rank-sum) test and
//! the Hodges–Lehmann estimate of the shift between two samples with its confidence interval.
//!
//! - The p-value is scipy's `mannwhitneyu(x, y, alternative="two-sided", method="asymptotic",
//!   use_continuity=True)`: normal approximation with tie correction and continuity correction.
//! - The estimate is the median of all pairwise differences `x[i] - y[j]`.
//! - The interval follows R's `wilcox.test(x, y, conf.int=TRUE)`: exact (quantiles of the
//!   Wilcoxon distribution) when there are no ties and both samples hold fewer than 50 values;
//!   otherwise the normal approximation with tie and continuity correction. Where R searches
//!   for the root of that approximation with `uniroot` (tolerance 1e-4), this module finds the
//!   exact pairwise difference at which the statistic crosses the normal quantile, which is the
//!   value `uniroot` converges to.
//!
//! `tests/fixtures/stats_reference.json` holds reference values computed with scipy
//! (`tests/fixtures/gen_stats_reference.py`); `tests/stats_reference.rs` checks agreement to
//! 1e-9 relative.

use serde::{Deserialize, Serialize};

/// The outcome of comparing canary (`x`) with baseline (`y`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of `x` (scipy's `statistic`).
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Hodges–Lehmann estimate of the shift `x - y`.
    pub estimate: f64,
    /// Confidence interval of the shift.
    pub lower: f64,
    pub upper: f64,
    /// Whether the interval comes from the exact distribution (else the normal approximation).
    pub exact_interval: bool,
}

/// Samples of fewer than this many values (each), without ties, get R's exact interval.
const EXACT_BELOW: usize = 50;

/// Test `x` against `y` (both non-empty, finite). `confidence` is in (0, 1).
pub fn mann_whitney(x: &[f64], y: &[f64], confidence: f64) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || !(0.0..1.0).contains(&confidence) || confidence <= 0.0 {
        return None;
    }
    let (u, p_value) = u_test(x, y);
    let mut diffs: Vec<f64> = Vec::with_capacity(x.len() * y.len());
    for &a in x {
        for &b in y {
            diffs.push(a - b);
        }
    }
    diffs.sort_by(f64::total_cmp);
    let estimate = median_sorted(&diffs);
    let alpha = 1.0 - confidence;
    let ties = has_ties(x, y);
    let (lower, upper, exact_interval) = if !ties && x.len() < EXACT_BELOW && y.len() < EXACT_BELOW
    {
        let (lo, hi) = exact_interval(&diffs, x.len(), y.len(), alpha);
        (lo, hi, true)
    } else {
        let (lo, hi) = approximate_interval(&diffs, x, y, alpha);
        (lo, hi, false)
    };
    Some(MannWhitney {
        u,
        p_value,
        estimate,
        lower,
        upper,
        exact_interval,
    })
}

/// U of `x` and the two-sided asymptotic p-value with tie and continuity corrections.
fn u_test(x: &[f64], y: &[f64]) -> (f64, f64) {
    let n1 = x.len() as f64;
    let n2 = y.len() as f64;
    let (rank_sum_x, tie_term) = rank_sum(x, y, 0.0);
    let u1 = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let u = u1.max(u2);
    let n = n1 + n2;
    let mu = n1 * n2 / 2.0;
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let z = (u - mu - 0.5) / s;
    let p = if z.is_nan() {
        1.0
    } else {
        (2.0 * normal_sf(z)).clamp(0.0, 1.0)
    };
    (u1, p)
}

/// Sum of the (average) ranks of `x - shift` in the combined sample, and Σ(t³ - t) over groups
/// of ties.
fn rank_sum(x: &[f64], y: &[f64], shift: f64) -> (f64, f64) {
    let mut all: Vec<(f64, bool)> = Vec::with_capacity(x.len() + y.len());
    all.extend(x.iter().map(|&v| (v - shift, true)));
    all.extend(y.iter().map(|&v| (v, false)));
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sum = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all.get(j).map(|e| e.0) == all.get(i).map(|e| e.0) {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let avg = (i + 1 + j) as f64 / 2.0;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        sum += avg
            * all
                .get(i..j)
                .map_or(0, |g| g.iter().filter(|e| e.1).count()) as f64;
        i = j;
    }
    (sum, ties)
}

fn has_ties(x: &[f64], y: &[f64]) -> bool {
    let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
    all.sort_by(f64::total_cmp);
    all.windows(2).any(|w| w.first() == w.get(1))
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    if n % 2 == 1 {
        v.get(mid).copied().unwrap_or(f64::NAN)
    } else {
        match (v.get(mid - 1), v.get(mid)) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            _ => f64::NAN,
        }
    }
}

/// R's exact interval: `diffs[qu]` and `diffs[m*n - qu + 1]` (1-based), with
/// `qu = qwilcox(alpha/2, m, n)` (at least 1).
fn exact_interval(diffs: &[f64], m: usize, n: usize, alpha: f64) -> (f64, f64) {
    let qu = qwilcox(alpha / 2.0, m, n).max(1);
    let ql = m * n - qu;
    let lo = diffs.get(qu - 1).copied().unwrap_or(f64::NAN);
    let hi = diffs.get(ql).copied().unwrap_or(f64::NAN);
    (lo, hi)
}

/// Number of ways of each U value for samples of `m` and `n` (the coefficients of the
/// Gaussian binomial coefficient), exactly.
fn wilcox_counts(m: usize, n: usize) -> Vec<u128> {
    // f[j] is the count polynomial for (i, j); rows i = 0..=m.
    let max = m * n;
    let mut row: Vec<Vec<u128>> = (0..=n)
        .map(|_| {
            let mut p = vec![0u128; max + 1];
            if let Some(c) = p.first_mut() {
                *c = 1;
            }
            p
        })
        .collect();
    for _i in 1..=m {
        let mut next: Vec<Vec<u128>> = Vec::with_capacity(n + 1);
        for j in 0..=n {
            let mut p = vec![0u128; max + 1];
            // (i, j) = q^j (i-1, j) + (i, j-1)
            if let Some(prev) = row.get(j) {
                for (k, &c) in prev.iter().enumerate() {
                    if c != 0
                        && let Some(slot) = p.get_mut(k + j)
                    {
                        *slot += c;
                    }
                }
            }
            if j > 0
                && let Some(left) = next.get(j - 1)
            {
                for (slot, &c) in p.iter_mut().zip(left) {
                    *slot += c;
                }
            }
            next.push(p);
        }
        row = next;
    }
    row.pop().unwrap_or_default()
}

/// R's `qwilcox(p, m, n)` for `p <= 0.5`: the smallest q with P(U <= q) >= p (less 10 ε).
fn qwilcox(p: f64, m: usize, n: usize) -> usize {
    let counts = wilcox_counts(m, n);
    let total: u128 = counts.iter().sum();
    let total = total as f64;
    let target = p - 10.0 * f64::EPSILON;
    let mut acc = 0.0;
    for (q, &c) in counts.iter().enumerate() {
        acc += c as f64 / total;
        if acc >= target {
            return q;
        }
    }
    counts.len().saturating_sub(1)
}

/// R's normal-approximation statistic of `wilcox.test` for the shift `mu`, with tie and
/// continuity corrections (`wdiff` with `zq = 0`).
fn w_statistic(x: &[f64], y: &[f64], mu: f64) -> f64 {
    let nx = x.len() as f64;
    let ny = y.len() as f64;
    let (r, ties) = rank_sum(x, y, mu);
    let dz = r - nx * (nx + 1.0) / 2.0 - nx * ny / 2.0;
    let correction = if dz > 0.0 {
        0.5
    } else if dz < 0.0 {
        -0.5
    } else {
        0.0
    };
    let sigma = (nx * ny / 12.0 * ((nx + ny + 1.0) - ties / ((nx + ny) * (nx + ny - 1.0)))).sqrt();
    (dz - correction) / sigma
}

/// The normal-approximation interval: the pairwise differences at which the statistic, a
/// non-increasing step function of the shift, crosses `±z(1 - alpha/2)`.
fn approximate_interval(diffs: &[f64], x: &[f64], y: &[f64], alpha: f64) -> (f64, f64) {
    let mut unique: Vec<f64> = diffs.to_vec();
    unique.dedup();
    let z = normal_quantile(1.0 - alpha / 2.0);
    let lo = crossing(&unique, x, y, z);
    let hi = crossing(&unique, x, y, -z);
    (lo, hi)
}

/// The first unique difference `u[k]` such that the statistic just above it is at most
/// `level` while just below it, it was above; clamped to the range of differences.
fn crossing(unique: &[f64], x: &[f64], y: &[f64], level: f64) -> f64 {
    let k_max = unique.len();
    // g(k): statistic between u[k-1] and u[k] (k = 0: below all; k = K: above all).
    let g = |k: usize| -> f64 {
        let mu = match (k.checked_sub(1).and_then(|i| unique.get(i)), unique.get(k)) {
            (None, Some(&b)) => b - 1.0 - b.abs(),
            (Some(&a), None) => a + 1.0 + a.abs(),
            (Some(&a), Some(&b)) => a + (b - a) / 2.0,
            (None, None) => 0.0,
        };
        w_statistic(x, y, mu)
    };
    // Smallest k in 0..=K with g(k) <= level (g is non-increasing in k).
    let (mut lo, mut hi) = (0usize, k_max);
    if g(k_max) > level {
        return unique.last().copied().unwrap_or(f64::NAN);
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if g(mid) <= level {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    // Crossing at u[lo-1]; lo == 0 means the statistic never exceeded the level: the lowest.
    let idx = lo.saturating_sub(1);
    unique.get(idx).copied().unwrap_or(f64::NAN)
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    let t = z * std::f64::consts::FRAC_1_SQRT_2;
    if t.abs() < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 - 0.5 * libm::erf(t)
    } else if t > 0.0 {
        0.5 * libm::erfc(t)
    } else {
        1.0 - 0.5 * libm::erfc(-t)
    }
}

/// P(Z <= z).
pub fn normal_cdf(z: f64) -> f64 {
    normal_sf(-z)
}

/// The `p` quantile of the standard normal (Newton steps from a rational approximation).
pub fn normal_quantile(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    // Abramowitz & Stegun 26.2.23 as the start.
    let q = if p < 0.5 { p } else { 1.0 - p };
    let t = (-2.0 * q.ln()).sqrt();
    let mut x = t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t)
            / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    if p < 0.5 {
        x = -x;
    }
    for _ in 0..6 {
        let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if pdf == 0.0 {
            break;
        }
        let step = (normal_cdf(x) - p) / pdf;
        x -= step;
        if step.abs() < 1e-15 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// Common-language effect size: P(x > y) + P(x = y) / 2.
pub fn cles(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let (r, _) = rank_sum(x, y, 0.0);
    let n1 = x.len() as f64;
    (r - n1 * (n1 + 1.0) / 2.0) / (n1 * y.len() as f64)
}

pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

/// Linear-interpolation quantile (numpy's default), `v` sorted.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    match (v.get(lo), v.get(hi)) {
        (Some(&a), Some(&b)) => a + (b - a) * (pos - lo as f64),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_known_values() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-13);
        assert!((normal_quantile(0.99) - 2.326347874040841).abs() < 1e-13);
        assert!((normal_quantile(0.01) + 2.326347874040841).abs() < 1e-13);
    }

    #[test]
    fn wilcox_distribution_is_symmetric_and_complete() {
        let c = wilcox_counts(3, 4);
        assert_eq!(c.iter().sum::<u128>(), 35);
        assert_eq!(c, vec![1, 1, 2, 3, 4, 4, 5, 4, 4, 3, 2, 1, 1]);
        // qwilcox(0.025, 5, 5) = 3 in R.
        assert_eq!(qwilcox(0.025, 5, 5), 3);
    }

    #[test]
    fn identical_constant_samples_do_not_reject() {
        let r = mann_whitney(&[1.0; 5], &[1.0; 7], 0.98).unwrap();
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.estimate, 0.0);
    }

    #[test]
    fn empty_samples_give_nothing() {
        assert!(mann_whitney(&[], &[1.0], 0.98).is_none());
    }
}
