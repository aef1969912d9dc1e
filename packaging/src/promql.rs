//! What the observability kit's queries read, and what a scrape offers: the metric names a
//! PromQL expression selects, and the sample names of a Prometheus text exposition. Pure;
//! the live check is `tests/observability.rs`.

use std::collections::BTreeSet;

/// Words that are never metric names: operators, modifiers, and the aggregations, which
/// may be followed by `by (..)` instead of `(` (any other name followed by `(` is a call).
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// Aggregation modifiers and vector matchers: the parenthesised list after them holds
/// label names, not metrics.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The metric names `expr` selects: identifiers outside label matchers `{..}`, ranges
/// `[..]`, strings and label lists (`by (..)`), that are not calls (`rate(`), keywords or
/// numbers. Grafana's `$__rate_interval`-style variables are skipped too.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // After `by`/`without`/..: the next `(..)` lists labels.
    let mut label_list_next = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if chars[i] == '"' {
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            if chars[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            '(' if label_list_next => {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                label_list_next = false;
            }
            '$' => {
                i += 1;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                // A number, or a duration such as 5m.
                while i < chars.len() && (is_name_char(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if is_name_start(c) => {
                let start = i;
                while i < chars.len() && is_name_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_call = chars.get(j) == Some(&'(');
                if LABEL_LISTS.contains(&name.as_str()) {
                    label_list_next = true;
                } else if !is_call && !KEYWORDS.contains(&name.as_str()) {
                    names.insert(name);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The sample names of a text exposition (`name{..} value` or `name value` lines; comments
/// skipped), histogram samples as exposed (`x_bucket`, `x_sum`, `x_count`).
pub fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// Every `expr` string in a JSON document (a Grafana dashboard's panel targets).
pub fn json_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == "expr" => out.push(s.clone()),
                    _ => json_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_exprs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn finds_the_metrics_and_nothing_else() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.99, sum by (le, function) (rate(worker_function_seconds_bucket{function!="unknown"}[5m])))"#
            ),
            ["worker_function_seconds_bucket"]
        );
        assert_eq!(
            names("sum(rate(gate_timeouts_total[5m])) / clamp_min(sum(rate(gate_requests_total[5m])), 1) > 0.01"),
            ["gate_requests_total", "gate_timeouts_total"]
        );
        assert_eq!(
            names("deriv(worker_queue_depth[10m]) > 5 and worker_queue_depth > 100"),
            ["worker_queue_depth"]
        );
        assert_eq!(
            names("changes(lukseun_start_time_seconds[1h]) > 2 or on (pod) lukseun_ready == 0"),
            ["lukseun_ready", "lukseun_start_time_seconds"]
        );
        assert_eq!(
            names(
                r#"sum without (status) (rate(x_total{a="b}{",c=~"[x]"}[$__rate_interval] offset 1h))"#
            ),
            ["x_total"]
        );
        assert_eq!(names("1e3 * 2.5 + 0x1f"), Vec::<String>::new());
    }

    #[test]
    fn reads_sample_names_of_an_exposition() {
        let text = "# HELP a_total x\n# TYPE a_total counter\na_total 3\n\
                    h_bucket{le=\"1\"} 1\nh_sum 0.5\nh_count{f=\"x\"} 1\n\n";
        let names: Vec<String> = sample_names(text).into_iter().collect();
        assert_eq!(names, ["a_total", "h_bucket", "h_count", "h_sum"]);
    }

    #[test]
    fn collects_every_expr_of_a_dashboard() {
        let dashboard = serde_json::json!({"panels": [
            {"targets": [{"expr": "a"}, {"expr": "b"}]},
            {"panels": [{"targets": [{"expr": "c", "legendFormat": "{{x}}"}]}]}
        ]});
        let mut out = Vec::new();
        json_exprs(&dashboard, &mut out);
        assert_eq!(out, ["a", "b", "c"]);
    }
}
