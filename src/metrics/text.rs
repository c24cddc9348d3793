//! The Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`
//! and sample lines, with label values and help text escaped.

use std::fmt::Write as _;

/// The `Content-Type` of what [`Writer`] produces.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value: integers are written exactly, floats as Prometheus
/// reads them (`+Inf`, `-Inf`, `NaN`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(n.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Int(b.into())
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

pub fn float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's shortest round-trip form (`0.005`, `1`, `1e-7`) is valid Go
        // float syntax, which is what Prometheus parses.
        format!("{f}")
    }
}

/// `\`, `"` and newline escaped, as label values must be.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `\` and newline escaped, as HELP text must be.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Accumulates one exposition. Families must be written whole, one after
/// the other (the format forbids interleaving).
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.name());
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        match value.into() {
            Value::Int(n) => {
                let _ = writeln!(self.out, " {n}");
            }
            Value::Float(f) => {
                let _ = writeln!(self.out, " {}", float(f));
            }
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples_in_the_exposition_format() {
        let mut w = Writer::new();
        w.family("lvsd_x_total", Kind::Counter, "Things.\nMore \\ of them.");
        w.sample("lvsd_x_total", &[], 3u64);
        w.sample(
            "lvsd_x_total",
            &[("a", "q\"uo\\te\nd"), ("b", "tcp 10.0.0.1:80")],
            7u32,
        );
        w.family("lvsd_y", Kind::Gauge, "A gauge.");
        w.sample("lvsd_y", &[("le", &float(f64::INFINITY))], 0.25);
        w.sample("lvsd_y", &[], f64::NAN);
        assert_eq!(
            w.finish(),
            "# HELP lvsd_x_total Things.\\nMore \\\\ of them.\n\
             # TYPE lvsd_x_total counter\n\
             lvsd_x_total 3\n\
             lvsd_x_total{a=\"q\\\"uo\\\\te\\nd\",b=\"tcp 10.0.0.1:80\"} 7\n\
             # HELP lvsd_y A gauge.\n\
             # TYPE lvsd_y gauge\n\
             lvsd_y{le=\"+Inf\"} 0.25\n\
             lvsd_y NaN\n"
        );
    }

    #[test]
    fn floats_as_prometheus_reads_them() {
        assert_eq!(float(0.005), "0.005");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(escape_label("[2001:db8::1]:80"), "[2001:db8::1]:80");
    }
}
