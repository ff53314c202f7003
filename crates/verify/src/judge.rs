//! The metric judge: Kayenta's NetflixACAJudge, re-implemented from its documented behaviour.
//!
//! Per metric: NaN handling, optional IQR outlier removal, the Mann-Whitney test with the
//! Hodges–Lehmann interval, a tolerance of `0.25 × |estimate|` around zero, an effect size
//! (mean ratio or CLES) with allowed and critical increases/decreases, and a direction.
//! The metric is classified Pass, High, Low, Nodata, NodataFailMetric or Error. Per group the
//! score is `100 × Pass / (Pass + High + Low + NodataFailMetric)`; the summary is the weighted
//! mean of the group scores. The summary is 0 when a critical metric fails or when at least
//! half of the metrics have no data.
//!
//! One addition: Kayenta's rank test is blind to a handful of extreme values (spinnaker/kayenta
//! issue #780: a canary with a few 100× outliers passes, because ranks do not see magnitude).
//! A metric may set `max_relative_change`: when the mean of the canary differs from the mean
//! of the baseline by more than that fraction of the baseline's mean (in the metric's
//! direction), the metric is High (or Low) whatever the rank test says. The means are taken
//! before outlier removal, since the outliers are what the bound is for.

use serde::{Deserialize, Serialize};

use crate::stats::{self, MannWhitney};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase is bad (errors, latency).
    Increase,
    /// Only a decrease is bad (throughput, success rate).
    Decrease,
    /// Any significant change is bad.
    #[default]
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop NaN values (Kayenta's default).
    #[default]
    Remove,
    /// Replace NaN with 0 (for counters where "no sample" means none happened).
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline).
    #[default]
    MeanRatio,
    /// Common-language effect size: P(canary > baseline).
    Cles,
}

/// How one metric is judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MetricRule {
    pub direction: Direction,
    /// A failure of this metric fails the whole analysis (score 0).
    pub critical: bool,
    /// No data for this metric counts as a failure (NodataFailMetric).
    pub must_have_data: bool,
    /// Classified and reported, but left out of the score.
    pub muted: bool,
    pub nan_strategy: NanStrategy,
    /// Remove values outside `[Q1 - f·IQR, Q3 + f·IQR]` before the test.
    pub remove_outliers: bool,
    pub outlier_factor: f64,
    /// Confidence level of the Hodges–Lehmann interval.
    pub confidence: f64,
    /// The interval must clear `tolerance × |estimate|` to count as a change.
    pub tolerance: f64,
    pub effect_size: EffectSize,
    /// Fix for Kayenta #780: a bound on |mean(canary) - mean(baseline)| / |mean(baseline)|.
    pub max_relative_change: Option<f64>,
}

impl Default for MetricRule {
    fn default() -> Self {
        Self {
            direction: Direction::Either,
            critical: false,
            must_have_data: false,
            muted: false,
            nan_strategy: NanStrategy::Remove,
            remove_outliers: false,
            outlier_factor: 3.0,
            confidence: 0.98,
            tolerance: 0.25,
            effect_size: EffectSize::default(),
            max_relative_change: None,
        }
    }
}

/// Effect-size bounds. A significant increase whose effect is below `allowed_increase` still
/// passes; one at or above `critical_increase` fails the analysis. Defaults: 1.0 for the mean
/// ratio (no allowance, nothing critical), 0.5 for CLES.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EffectSize {
    pub measure: EffectMeasure,
    pub allowed_increase: Option<f64>,
    pub critical_increase: Option<f64>,
    pub allowed_decrease: Option<f64>,
    pub critical_decrease: Option<f64>,
}

impl EffectSize {
    fn neutral(&self) -> f64 {
        match self.measure {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Classification {
    Pass,
    High,
    Low,
    Nodata,
    NodataFailMetric,
    Error,
}

impl Classification {
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::High | Self::Low | Self::NodataFailMetric | Self::Error
        )
    }
}

/// What the judge concluded about one metric, with everything it concluded it from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    pub classification: Classification,
    /// The reason, in words.
    pub reason: String,
    /// Set when this result fails the analysis (a critical metric failed, or an effect beyond
    /// the critical bound).
    pub critical_failure: bool,
    pub baseline: SeriesSummary,
    pub canary: SeriesSummary,
    pub test: Option<MannWhitney>,
    pub effect_size: Option<f64>,
    pub effect_measure: EffectMeasure,
    pub relative_change: Option<f64>,
}

/// The data one side contributed, after cleaning.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// Values as received (before NaN handling and outlier removal).
    pub received: usize,
    /// Values the test used.
    pub used: usize,
    pub nan: usize,
    pub outliers_removed: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub values: Vec<f64>,
}

/// Largest number of pairwise differences computed for one metric (2,000 × 2,000 values).
pub const MAX_PAIRS: usize = 4_000_000;

/// At most `keep` values of `v`, evenly spaced.
fn thin(v: &[f64], keep: usize) -> Vec<f64> {
    if v.len() <= keep || keep == 0 {
        return v.to_vec();
    }
    (0..keep)
        .filter_map(|i| v.get(i * v.len() / keep).copied())
        .collect()
}

/// NaN handling, then outlier removal: (values after NaN handling, values the test uses,
/// summary).
fn clean(values: &[f64], rule: &MetricRule) -> (Vec<f64>, Vec<f64>, SeriesSummary) {
    let nan = values.iter().filter(|v| !v.is_finite()).count();
    let handled: Vec<f64> = match rule.nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| v.is_finite()).collect(),
        NanStrategy::Replace => values
            .iter()
            .map(|&v| if v.is_finite() { v } else { 0.0 })
            .collect(),
    };
    let mut kept = handled.clone();
    if rule.remove_outliers && kept.len() >= 4 {
        let mut sorted = kept.clone();
        sorted.sort_by(f64::total_cmp);
        let q1 = stats::quantile_sorted(&sorted, 0.25);
        let q3 = stats::quantile_sorted(&sorted, 0.75);
        let iqr = q3 - q1;
        let (lo, hi) = (
            q1 - rule.outlier_factor * iqr,
            q3 + rule.outlier_factor * iqr,
        );
        kept.retain(|&v| v >= lo && v <= hi);
    }
    let mut sorted = kept.clone();
    sorted.sort_by(f64::total_cmp);
    let summary = SeriesSummary {
        received: values.len(),
        used: kept.len(),
        nan,
        outliers_removed: handled.len() - kept.len(),
        mean: (!kept.is_empty()).then(|| stats::mean(&kept)),
        median: (!sorted.is_empty()).then(|| stats::quantile_sorted(&sorted, 0.5)),
        values: values.to_vec(),
    };
    (handled, kept, summary)
}

fn fmt(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e6) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.3e}")
    }
}

/// Classify one metric: `canary` against `baseline`.
pub fn classify(baseline: &[f64], canary: &[f64], rule: &MetricRule) -> MetricResult {
    let (base_raw, base, base_summary) = clean(baseline, rule);
    let (can_raw, can, can_summary) = clean(canary, rule);
    let mut result = MetricResult {
        classification: Classification::Pass,
        reason: String::new(),
        critical_failure: false,
        baseline: base_summary,
        canary: can_summary,
        test: None,
        effect_size: None,
        effect_measure: rule.effect_size.measure,
        relative_change: None,
    };
    if !(rule.confidence > 0.0 && rule.confidence < 1.0 && rule.outlier_factor.is_finite()) {
        result.classification = Classification::Error;
        result.reason = format!(
            "invalid rule: confidence {} must be in (0, 1), outlier factor {} finite",
            rule.confidence, rule.outlier_factor
        );
        result.critical_failure = rule.critical;
        return result;
    }
    if base.is_empty() || can.is_empty() {
        let side = match (base.is_empty(), can.is_empty()) {
            (true, true) => "neither the baseline nor the canary",
            (true, false) => "the baseline has no data",
            _ => "the canary has no data",
        };
        let side = if side.starts_with("neither") {
            "neither the baseline nor the canary has data".to_string()
        } else {
            side.to_string()
        };
        if rule.must_have_data {
            result.classification = Classification::NodataFailMetric;
            result.reason = format!("{side}, and this metric must have data");
            result.critical_failure = rule.critical;
        } else {
            result.classification = Classification::Nodata;
            result.reason = side;
        }
        return result;
    }

    // Kayenta #780: the relative change of the means, before outlier removal.
    let base_mean = stats::mean(&base_raw);
    let can_mean = stats::mean(&can_raw);
    let relative = if base_mean != 0.0 {
        Some((can_mean - base_mean) / base_mean.abs())
    } else if can_mean == 0.0 {
        Some(0.0)
    } else {
        None
    };
    result.relative_change = relative;

    let effect = match rule.effect_size.measure {
        EffectMeasure::MeanRatio => {
            let b = stats::mean(&base);
            let c = stats::mean(&can);
            if b == 0.0 {
                if c == 0.0 {
                    1.0
                } else {
                    f64::INFINITY.copysign(c)
                }
            } else {
                c / b
            }
        }
        EffectMeasure::Cles => stats::cles(&can, &base),
    };
    result.effect_size = Some(effect);
    let measure_name = match rule.effect_size.measure {
        EffectMeasure::MeanRatio => "mean ratio",
        EffectMeasure::Cles => "CLES",
    };

    let mut sorted_base = base.clone();
    sorted_base.sort_by(f64::total_cmp);
    let mut sorted_can = can.clone();
    sorted_can.sort_by(f64::total_cmp);
    let identical = sorted_base == sorted_can
        || (sorted_base.first() == sorted_base.last()
            && sorted_can.first() == sorted_can.last()
            && sorted_base.first() == sorted_can.first());

    let bound_exceeded = match (rule.max_relative_change, relative) {
        (Some(bound), Some(rel)) => match rule.direction {
            Direction::Increase => rel > bound,
            Direction::Decrease => -rel > bound,
            Direction::Either => rel.abs() > bound,
        },
        (Some(_), None) => can_mean.abs() > 0.0 && rule.direction != Direction::Decrease,
        _ => false,
    };

    if identical && !bound_exceeded {
        result.reason = "the canary and the baseline have the same values".to_string();
        return result;
    }

    // The Hodges–Lehmann interval needs every pairwise difference: beyond MAX_PAIRS, test
    // evenly thinned series instead (in their order, so a trend keeps its shape).
    let thinned = can.len().saturating_mul(base.len()) > MAX_PAIRS;
    let test = if identical {
        None
    } else if thinned {
        let keep = (MAX_PAIRS as f64).sqrt() as usize;
        stats::mann_whitney(&thin(&can, keep), &thin(&base, keep), rule.confidence)
    } else {
        stats::mann_whitney(&can, &base, rule.confidence)
    };
    result.test = test;

    let mut high = false;
    let mut low = false;
    if let Some(t) = &test {
        let tolerance = rule.tolerance * t.estimate.abs();
        high = matches!(rule.direction, Direction::Increase | Direction::Either)
            && t.lower > tolerance;
        low = matches!(rule.direction, Direction::Decrease | Direction::Either)
            && t.upper < -tolerance;
    }
    let neutral = rule.effect_size.neutral();
    let mut reason = String::new();
    if let Some(t) = &test {
        reason = format!(
            "shift {} ({}% interval {} to {}), p = {}, {measure_name} {}",
            fmt(t.estimate),
            fmt(rule.confidence * 100.0),
            fmt(t.lower),
            fmt(t.upper),
            fmt(t.p_value),
            fmt(effect)
        );
    }
    if high {
        let allowed = rule.effect_size.allowed_increase.unwrap_or(neutral);
        if effect <= allowed && rule.effect_size.allowed_increase.is_some() {
            result.reason = format!(
                "increase within the allowed {measure_name} {}: {reason}",
                fmt(allowed)
            );
        } else {
            result.classification = Classification::High;
            result.reason = format!("canary significantly higher than baseline: {reason}");
            if let Some(c) = rule.effect_size.critical_increase
                && effect >= c
            {
                result.critical_failure = true;
                result.reason.push_str(&format!(
                    " (at or beyond the critical {measure_name} {})",
                    fmt(c)
                ));
            }
        }
    } else if low {
        let allowed = rule.effect_size.allowed_decrease.unwrap_or(neutral);
        if effect >= allowed && rule.effect_size.allowed_decrease.is_some() {
            result.reason = format!(
                "decrease within the allowed {measure_name} {}: {reason}",
                fmt(allowed)
            );
        } else {
            result.classification = Classification::Low;
            result.reason = format!("canary significantly lower than baseline: {reason}");
            if let Some(c) = rule.effect_size.critical_decrease
                && effect <= c
            {
                result.critical_failure = true;
                result.reason.push_str(&format!(
                    " (at or beyond the critical {measure_name} {})",
                    fmt(c)
                ));
            }
        }
    } else {
        result.reason = if reason.is_empty() {
            "no significant difference".to_string()
        } else {
            format!("no significant difference: {reason}")
        };
    }

    if result.classification == Classification::Pass && bound_exceeded {
        let rel = relative.map_or("unbounded".to_string(), |r| format!("{:+.1}%", r * 100.0));
        let bound = rule.max_relative_change.unwrap_or_default();
        result.classification = match relative {
            Some(r) if r < 0.0 => Classification::Low,
            _ => Classification::High,
        };
        result.reason = format!(
            "mean changed by {rel} (canary {} vs baseline {}), beyond the relative-change bound of {}% ({})",
            fmt(can_mean),
            fmt(base_mean),
            fmt(bound * 100.0),
            result.reason
        );
    }
    if thinned {
        result.reason.push_str(&format!(
            " (series thinned to {} values each for the test)",
            (MAX_PAIRS as f64).sqrt() as usize
        ));
    }
    if rule.critical && result.classification.is_failure() {
        result.critical_failure = true;
    }
    result
}

/// Verdict of a score against the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Marginal,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Marginal => "marginal",
            Self::Fail => "fail",
        }
    }
}

/// Thresholds on the 0–100 score: `pass` or more passes, `marginal` or less fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

impl Thresholds {
    pub fn verdict(&self, score: f64) -> Verdict {
        if score >= self.pass {
            Verdict::Pass
        } else if score <= self.marginal {
            Verdict::Fail
        } else {
            Verdict::Marginal
        }
    }
}

/// One metric's result with its place in the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredMetric {
    pub name: String,
    pub group: String,
    pub muted: bool,
    pub result: MetricResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    pub name: String,
    pub weight: f64,
    /// `None` when no metric of the group counts (all no data or muted).
    pub score: Option<f64>,
    pub pass: usize,
    pub high: usize,
    pub low: usize,
    pub nodata: usize,
    pub nodata_fail: usize,
    pub error: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub score: f64,
    pub groups: Vec<GroupScore>,
    /// Why the score is what it is, when a rule overrode the weighted mean.
    pub notes: Vec<String>,
}

/// Group scores and the weighted summary. `weights` maps group names to weights (groups not in
/// it weigh 1).
pub fn score(metrics: &[ScoredMetric], weights: &[(String, f64)]) -> Summary {
    let mut groups: Vec<GroupScore> = Vec::new();
    for (name, weight) in weights {
        groups.push(GroupScore {
            name: name.clone(),
            weight: *weight,
            score: None,
            pass: 0,
            high: 0,
            low: 0,
            nodata: 0,
            nodata_fail: 0,
            error: 0,
        });
    }
    let mut notes = Vec::new();
    let mut critical = Vec::new();
    let mut nodata = 0usize;
    let mut counted = 0usize;
    for m in metrics {
        if m.result.critical_failure {
            critical.push(m.name.clone());
        }
        if m.muted {
            continue;
        }
        counted += 1;
        let idx = match groups.iter().position(|g| g.name == m.group) {
            Some(i) => i,
            None => {
                groups.push(GroupScore {
                    name: m.group.clone(),
                    weight: 1.0,
                    score: None,
                    pass: 0,
                    high: 0,
                    low: 0,
                    nodata: 0,
                    nodata_fail: 0,
                    error: 0,
                });
                groups.len() - 1
            }
        };
        let Some(g) = groups.get_mut(idx) else {
            continue;
        };
        match m.result.classification {
            Classification::Pass => g.pass += 1,
            Classification::High => g.high += 1,
            Classification::Low => g.low += 1,
            Classification::Nodata => {
                g.nodata += 1;
                nodata += 1;
            }
            Classification::NodataFailMetric => {
                g.nodata_fail += 1;
                nodata += 1;
            }
            // An error counts as a failure: a metric that could not be judged is not a pass.
            Classification::Error => g.error += 1,
        }
    }
    let mut total_weight = 0.0;
    let mut weighted = 0.0;
    for g in &mut groups {
        let denom = g.pass + g.high + g.low + g.nodata_fail + g.error;
        if denom > 0 {
            let s = 100.0 * g.pass as f64 / denom as f64;
            g.score = Some(s);
            weighted += g.weight * s;
            total_weight += g.weight;
        }
    }
    let mut score = if total_weight > 0.0 {
        weighted / total_weight
    } else {
        0.0
    };
    if total_weight == 0.0 {
        notes.push("no metric could be scored".to_string());
    }
    if !critical.is_empty() {
        score = 0.0;
        notes.push(format!("critical metric failed: {}", critical.join(", ")));
    }
    if counted > 0 && nodata * 2 >= counted {
        score = 0.0;
        notes.push(format!(
            "{nodata} of {counted} metrics have no data (50% or more)"
        ));
    }
    Summary {
        score,
        groups,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: Direction) -> MetricRule {
        MetricRule {
            direction,
            ..MetricRule::default()
        }
    }

    fn series(center: f64, n: usize) -> Vec<f64> {
        // Deterministic spread around `center` (no ties).
        (0..n)
            .map(|i| center + ((i * 37 % n) as f64 - n as f64 / 2.0) * 0.01 * center.abs().max(1.0))
            .collect()
    }

    #[test]
    fn classification_table() {
        let base = series(100.0, 40);
        let up = series(150.0, 40);
        let down = series(60.0, 40);
        type Case = (
            &'static str,
            Vec<f64>,
            Vec<f64>,
            MetricRule,
            Classification,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "same data",
                base.clone(),
                base.clone(),
                rule(Direction::Either),
                Classification::Pass,
                false,
            ),
            (
                "higher, increase",
                base.clone(),
                up.clone(),
                rule(Direction::Increase),
                Classification::High,
                false,
            ),
            (
                "higher, either",
                base.clone(),
                up.clone(),
                rule(Direction::Either),
                Classification::High,
                false,
            ),
            (
                "higher, decrease only",
                base.clone(),
                up.clone(),
                rule(Direction::Decrease),
                Classification::Pass,
                false,
            ),
            (
                "lower, decrease",
                base.clone(),
                down.clone(),
                rule(Direction::Decrease),
                Classification::Low,
                false,
            ),
            (
                "lower, increase only",
                base.clone(),
                down.clone(),
                rule(Direction::Increase),
                Classification::Pass,
                false,
            ),
            (
                "no canary data",
                base.clone(),
                vec![],
                rule(Direction::Either),
                Classification::Nodata,
                false,
            ),
            (
                "only NaN",
                base.clone(),
                vec![f64::NAN; 5],
                rule(Direction::Either),
                Classification::Nodata,
                false,
            ),
            (
                "no data, must have",
                vec![],
                base.clone(),
                MetricRule {
                    must_have_data: true,
                    ..rule(Direction::Either)
                },
                Classification::NodataFailMetric,
                false,
            ),
            (
                "critical high",
                base.clone(),
                up.clone(),
                MetricRule {
                    critical: true,
                    ..rule(Direction::Increase)
                },
                Classification::High,
                true,
            ),
            (
                "allowed increase",
                base.clone(),
                up.clone(),
                MetricRule {
                    effect_size: EffectSize {
                        allowed_increase: Some(1.6),
                        ..EffectSize::default()
                    },
                    ..rule(Direction::Increase)
                },
                Classification::Pass,
                false,
            ),
            (
                "critical increase",
                base.clone(),
                up.clone(),
                MetricRule {
                    effect_size: EffectSize {
                        critical_increase: Some(1.4),
                        ..EffectSize::default()
                    },
                    ..rule(Direction::Increase)
                },
                Classification::High,
                true,
            ),
            (
                "NaN replaced by zero",
                base.clone(),
                vec![f64::NAN; 40],
                MetricRule {
                    nan_strategy: NanStrategy::Replace,
                    ..rule(Direction::Decrease)
                },
                Classification::Low,
                false,
            ),
            (
                "NaN removed",
                base.clone(),
                vec![f64::NAN; 40],
                rule(Direction::Decrease),
                Classification::Nodata,
                false,
            ),
            (
                "constant equal",
                vec![3.0; 10],
                vec![3.0; 12],
                rule(Direction::Either),
                Classification::Pass,
                false,
            ),
            (
                "constant higher",
                vec![3.0; 10],
                vec![5.0; 12],
                rule(Direction::Increase),
                Classification::High,
                false,
            ),
        ];
        for (name, b, c, r, want, critical) in cases {
            let got = classify(&b, &c, &r);
            assert_eq!(got.classification, want, "{name}: {}", got.reason);
            assert_eq!(got.critical_failure, critical, "{name}: critical");
            assert!(!got.reason.is_empty(), "{name}: a reason");
        }
    }

    #[test]
    fn outliers_pass_the_rank_test_but_not_the_relative_bound() {
        // Kayenta #780: a few 100× values do not move the ranks.
        let base = series(10.0, 60);
        let mut canary = series(10.0, 60);
        canary[5] = 1000.0;
        canary[30] = 1000.0;
        let plain = classify(&base, &canary, &rule(Direction::Increase));
        assert_eq!(
            plain.classification,
            Classification::Pass,
            "{}",
            plain.reason
        );
        let bounded = MetricRule {
            max_relative_change: Some(0.5),
            ..rule(Direction::Increase)
        };
        let got = classify(&base, &canary, &bounded);
        assert_eq!(got.classification, Classification::High, "{}", got.reason);
        assert!(
            got.reason.contains("relative-change bound"),
            "{}",
            got.reason
        );
        // Outlier removal does not hide them from the bound.
        let with_removal = MetricRule {
            remove_outliers: true,
            ..bounded
        };
        assert_eq!(
            classify(&base, &canary, &with_removal).classification,
            Classification::High
        );
    }

    #[test]
    fn long_series_are_thinned_not_exhausted() {
        let long = |c: f64| {
            (0..30_000)
                .map(|i| c + (i * 37 % 101) as f64 * 0.1)
                .collect::<Vec<_>>()
        };
        let (base, canary) = (long(100.0), long(150.0));
        let got = classify(&base, &canary, &rule(Direction::Increase));
        assert_eq!(got.classification, Classification::High, "{}", got.reason);
        assert!(got.reason.contains("thinned to 2000"), "{}", got.reason);
    }

    #[test]
    fn outlier_removal_drops_extremes() {
        let base = series(10.0, 40);
        let mut canary = series(10.0, 40);
        canary[0] = 1e6;
        let r = MetricRule {
            remove_outliers: true,
            ..rule(Direction::Either)
        };
        let got = classify(&base, &canary, &r);
        assert_eq!(got.canary.outliers_removed, 1);
        assert_eq!(got.canary.used, 39);
    }

    fn scored(
        name: &str,
        group: &str,
        c: Classification,
        critical: bool,
        muted: bool,
    ) -> ScoredMetric {
        ScoredMetric {
            name: name.into(),
            group: group.into(),
            muted,
            result: MetricResult {
                classification: c,
                reason: String::new(),
                critical_failure: critical,
                baseline: SeriesSummary::default(),
                canary: SeriesSummary::default(),
                test: None,
                effect_size: None,
                effect_measure: EffectMeasure::MeanRatio,
                relative_change: None,
            },
        }
    }

    #[test]
    fn scoring_table() {
        use Classification::*;
        let w = |v: &[(&str, f64)]| {
            v.iter()
                .map(|(n, w)| (n.to_string(), *w))
                .collect::<Vec<_>>()
        };
        // (name, metrics, weights, expected score)
        type Case = (&'static str, Vec<ScoredMetric>, Vec<(String, f64)>, f64);
        let cases: Vec<Case> = vec![
            (
                "all pass",
                vec![
                    scored("a", "g", Pass, false, false),
                    scored("b", "g", Pass, false, false),
                ],
                w(&[("g", 1.0)]),
                100.0,
            ),
            (
                "one of four high",
                vec![
                    scored("a", "g", Pass, false, false),
                    scored("b", "g", Pass, false, false),
                    scored("c", "g", Pass, false, false),
                    scored("d", "g", High, false, false),
                ],
                w(&[("g", 1.0)]),
                75.0,
            ),
            (
                "nodata left out of the group score",
                vec![
                    scored("a", "g", Pass, false, false),
                    scored("b", "g", Pass, false, false),
                    scored("c", "g", Low, false, false),
                    scored("d", "g", Nodata, false, false),
                ],
                w(&[("g", 1.0)]),
                100.0 * 2.0 / 3.0,
            ),
            (
                "nodata-fail counts",
                vec![
                    scored("a", "g", Pass, false, false),
                    scored("b", "g", Pass, false, false),
                    scored("c", "g", Pass, false, false),
                    scored("d", "g", NodataFailMetric, false, false),
                ],
                w(&[("g", 1.0)]),
                75.0,
            ),
            (
                "weighted groups",
                vec![
                    scored("a", "errors", High, false, false),
                    scored("b", "errors", Pass, false, false),
                    scored("c", "latency", Pass, false, false),
                ],
                w(&[("errors", 60.0), ("latency", 40.0)]),
                0.6 * 50.0 + 0.4 * 100.0,
            ),
            (
                "critical failure zeroes",
                vec![
                    scored("a", "g", High, true, false),
                    scored("b", "g", Pass, false, false),
                    scored("c", "g", Pass, false, false),
                ],
                w(&[("g", 1.0)]),
                0.0,
            ),
            (
                "half no data zeroes",
                vec![
                    scored("a", "g", Nodata, false, false),
                    scored("b", "g", Pass, false, false),
                ],
                w(&[("g", 1.0)]),
                0.0,
            ),
            (
                "muted left out",
                vec![
                    scored("a", "g", High, false, true),
                    scored("b", "g", Pass, false, false),
                ],
                w(&[("g", 1.0)]),
                100.0,
            ),
            (
                "empty group does not weigh",
                vec![
                    scored("a", "g", Pass, false, false),
                    scored("b", "h", Nodata, false, false),
                    scored("c", "g", Pass, false, false),
                ],
                w(&[("g", 1.0), ("h", 3.0)]),
                100.0,
            ),
        ];
        for (name, metrics, weights, want) in cases {
            let s = score(&metrics, &weights);
            assert!(
                (s.score - want).abs() < 1e-9,
                "{name}: got {}, want {want} ({:?})",
                s.score,
                s.notes
            );
        }
    }

    #[test]
    fn verdicts() {
        let t = Thresholds {
            pass: 95.0,
            marginal: 75.0,
        };
        assert_eq!(t.verdict(100.0), Verdict::Pass);
        assert_eq!(t.verdict(95.0), Verdict::Pass);
        assert_eq!(t.verdict(80.0), Verdict::Marginal);
        assert_eq!(t.verdict(75.0), Verdict::Fail);
        assert_eq!(t.verdict(0.0), Verdict::Fail);
    }
}
