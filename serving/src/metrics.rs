//! Counters and histograms rendered in the Prometheus text exposition format (version 0.0.4),
//! with no registry dependency: each server owns a struct of these and renders them in order.
//!
//! Label values are escaped as the format requires (`\\`, `\"`, `\n`). Callers keep label
//! sets bounded: only configured names (client ids, providers) and stable codes become
//! labels, never a value an unauthenticated caller chooses.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `Content-Type` of a rendered exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency bucket upper bounds in seconds, from 50 µs (a verification) to 10 s (a slow
/// upstream).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

type Label = Cow<'static, str>;

/// A counter with labels: one value per distinct label set.
pub struct CounterVec {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    values: Mutex<BTreeMap<Box<[Label]>, u64>>,
}

impl CounterVec {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Self {
        CounterVec {
            name,
            help,
            label_names,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one to the series with these label values (in `label_names` order). Allocates only
    /// the first time a label set is seen.
    pub fn inc(&self, labels: &[Label]) {
        debug_assert_eq!(labels.len(), self.label_names.len(), "{}", self.name);
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        match values.get_mut(labels) {
            Some(n) => *n += 1,
            None => {
                values.insert(labels.to_vec().into_boxed_slice(), 1);
            }
        }
    }

    /// The current value of one series (0 when never incremented).
    pub fn get(&self, labels: &[Label]) -> u64 {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.get(labels).copied().unwrap_or(0)
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        for (labels, n) in values.iter() {
            let _ = writeln!(
                out,
                "{}{} {n}",
                self.name,
                label_set(self.label_names, labels)
            );
        }
    }
}

/// A counter without labels.
#[derive(Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "counter");
        let _ = writeln!(out, "{name} {}", self.get());
    }
}

/// A histogram of durations in seconds, lock-free (one atomic per bucket).
pub struct Histogram {
    name: &'static str,
    help: &'static str,
    bounds: &'static [f64],
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn new(name: &'static str, help: &'static str, bounds: &'static [f64]) -> Self {
        Histogram {
            name,
            help,
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Records one observation. Buckets are stored non-cumulatively and summed when
    /// rendered, so an observation touches one bucket.
    pub fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((seconds.max(0.0) * 1e9) as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter()) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{}_bucket{{le=\"{bound}\"}} {cumulative}", self.name);
        }
        let count = self.count();
        let _ = writeln!(out, "{}_bucket{{le=\"+Inf\"}} {count}", self.name);
        let _ = writeln!(
            out,
            "{}_sum {}",
            self.name,
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{}_count {count}", self.name);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn label_set(names: &[&str], values: &[Label]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Escapes a label value for the text format.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// One sample of a parsed exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Why an exposition does not parse.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

/// Parses the text format strictly (what a scraper would reject is an error): every sample
/// line is `name{labels} value`, every family has `# TYPE` before its samples. For tests and
/// for operators checking an exposition.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fail = |reason| ParseError {
            line: line_no,
            reason,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(fail("TYPE without a kind"))?;
            if !matches!(
                kind,
                "counter" | "gauge" | "histogram" | "summary" | "untyped"
            ) {
                return Err(fail("unknown metric type"));
            }
            if !typed.insert(name.to_owned()) {
                return Err(fail("TYPE given twice"));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or(fail("sample without a value"))?;
        let name = &line[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(fail("bad metric name"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| typed.contains(*base))
            .unwrap_or(name);
        if !typed.contains(family) {
            return Err(fail("sample before its TYPE line"));
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(inner).ok_or(fail("bad label set"))?;
            labels = parsed;
            rest = after;
        }
        let value = rest
            .strip_prefix(' ')
            .ok_or(fail("no space before the value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| fail("value is not a number"))?,
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    Ok(samples)
}

/// The value of the first sample named `name` whose labels include every `(key, value)`.
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, rest) = s.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    _ => return None,
                },
                c => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return None;
        }
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_it_parses() {
        static REQUESTS: CounterVec =
            CounterVec::new("t_requests_total", "Requests.", &["outcome", "code"]);
        REQUESTS.inc(&["denied".into(), "claim_invalid:aud".into()]);
        REQUESTS.inc(&["denied".into(), "claim_invalid:aud".into()]);
        REQUESTS.inc(&["allowed".into(), "".into()]);
        REQUESTS.inc(&["odd".into(), "a\"b\\c\nd".into()]);
        let latency = Histogram::new("t_latency_seconds", "Latency.", &LATENCY_BUCKETS);
        latency.observe(0.00004);
        latency.observe(0.003);
        latency.observe(99.0);
        let mut text = String::new();
        REQUESTS.render(&mut text);
        latency.render(&mut text);
        let samples = parse(&text).unwrap();
        let find = |name: &str, key: &str, value: &str| value_of(&samples, name, &[(key, value)]);
        assert_eq!(
            find("t_requests_total", "code", "claim_invalid:aud"),
            Some(2.0)
        );
        assert_eq!(find("t_requests_total", "code", "a\"b\\c\nd"), Some(1.0));
        assert_eq!(find("t_latency_seconds_bucket", "le", "0.00005"), Some(1.0));
        assert_eq!(find("t_latency_seconds_bucket", "le", "0.005"), Some(2.0));
        assert_eq!(find("t_latency_seconds_bucket", "le", "10"), Some(2.0));
        assert_eq!(find("t_latency_seconds_bucket", "le", "+Inf"), Some(3.0));
        assert_eq!(latency.count(), 3);
    }

    #[test]
    fn refuses_broken_expositions() {
        for text in [
            "x_total 1\n",
            "# TYPE x counter\nx_total{a=\"1\" 1\n",
            "# TYPE x counter\nx one\n",
            "# TYPE x counter\n# TYPE x counter\n",
            "# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}
