//! Rendering rows the way upstream patronictl does: `pretty` (prettytable-style ASCII with the
//! cluster title in the top border), `tsv`, `json` (Python's separators) and `yaml`
//! (PyYAML's `safe_dump`: block style, keys sorted).

use comfy_table::{CellAlignment, ContentArrangement, Table};
use serde_json::{Map, Value};

/// Output formats of `list`, `topology` and `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// ASCII table.
    #[default]
    Pretty,
    /// Tab-separated values.
    Tsv,
    /// JSON array of objects.
    Json,
    /// YAML list of mappings.
    Yaml,
    /// Same as yaml.
    Yml,
}

/// A cell: text or a number (numbers stay numbers in JSON/YAML).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text (empty = no value).
    Text(String),
    /// A number.
    Int(i64),
}

impl Cell {
    fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(i) => Value::from(*i),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Text(s) if s.is_empty())
    }
}

/// `prettytable`'s ASCII frame: borders and the header rule only, no rules between rows.
const PRETTY_PRESET: &str = "||--+-++|    ++++++";

/// Renders the pretty table; `right` names the right-aligned columns; `title` is written
/// into the top border.
pub fn pretty(
    headers: &[String],
    rows: &[Vec<Cell>],
    right: &[&str],
    title: Option<&str>,
) -> String {
    let mut table = Table::new();
    table
        .load_preset(PRETTY_PRESET)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(comfy_table::Cell::new));
    for row in rows {
        table.add_row(row.iter().map(|c| comfy_table::Cell::new(c.display())));
    }
    for (i, h) in headers.iter().enumerate() {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(if right.contains(&h.as_str()) {
                CellAlignment::Right
            } else {
                CellAlignment::Left
            });
        }
    }
    let text = table.to_string();
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
    if let (Some(title), Some(first)) = (title, lines.first_mut()) {
        let border: Vec<char> = first.chars().collect();
        let title: Vec<char> = title.chars().collect();
        let mut out: Vec<char> = border.clone();
        for (i, c) in title.iter().enumerate() {
            if i + 1 < out.len() {
                out[i + 1] = *c;
            }
        }
        *first = out.into_iter().collect();
    }
    lines.join("\n")
}

/// Tab-separated header and rows.
pub fn tsv(headers: &[String], rows: &[Vec<Cell>]) -> String {
    let mut out = vec![headers.join("\t")];
    for row in rows {
        out.push(row.iter().map(Cell::display).collect::<Vec<_>>().join("\t"));
    }
    out.join("\n")
}

fn objects(headers: &[String], rows: &[Vec<Cell>], skip_empty: bool) -> Vec<Map<String, Value>> {
    rows.iter()
        .map(|row| {
            headers
                .iter()
                .zip(row)
                .filter(|(_, c)| !(skip_empty && c.is_empty()))
                .map(|(h, c)| (h.clone(), c.json()))
                .collect()
        })
        .collect()
}

/// `json.dumps` of the rows as objects (empty values dropped when `skip_empty`).
pub fn json(headers: &[String], rows: &[Vec<Cell>], skip_empty: bool) -> String {
    let list: Vec<Value> = objects(headers, rows, skip_empty)
        .into_iter()
        .map(Value::Object)
        .collect();
    patroni_core::pyjson::to_string(&list)
}

/// PyYAML `safe_dump` of the rows: a block list of mappings with sorted keys.
pub fn yaml(headers: &[String], rows: &[Vec<Cell>], skip_empty: bool) -> String {
    let list = objects(headers, rows, skip_empty);
    if list.is_empty() {
        return "[]\n".into();
    }
    let mut out = String::new();
    for obj in list {
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        for (i, k) in keys.iter().enumerate() {
            let v = &obj[*k];
            let text = match v {
                Value::String(s) if s.contains('\n') => {
                    let indent = "    ";
                    format!(
                        "|-\n{}",
                        s.lines()
                            .map(|l| format!("{indent}{l}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    )
                }
                Value::String(s) if crate::yaml::needs_quotes(s) => {
                    format!("'{}'", s.replace('\'', "''"))
                }
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let key = if crate::yaml::needs_quotes(k) {
                format!("'{k}'")
            } else {
                (*k).clone()
            };
            out.push_str(if i == 0 { "- " } else { "  " });
            out.push_str(&format!("{key}: {text}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_matches_upstream_layout() {
        let headers: Vec<String> = ["Member", "Host", "Role", "TL"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = vec![vec![
            Cell::Text("pg1".into()),
            Cell::Text("127.0.0.1:15432".into()),
            Cell::Text("Replica".into()),
            Cell::Int(1),
        ]];
        let text = pretty(&headers, &rows, &["TL"], Some(" Cluster: bench (77) "));
        assert_eq!(
            text,
            "+ Cluster: bench (77) -----+---------+----+\n| Member | Host            | Role    | TL |\n+--------+-----------------+---------+----+\n| pg1    | 127.0.0.1:15432 | Replica |  1 |\n+--------+-----------------+---------+----+"
        );
    }

    #[test]
    fn yaml_quotes_like_pyyaml() {
        assert!(crate::yaml::needs_quotes("2099-01-01T00:00:00+00:00"));
        assert!(!crate::yaml::needs_quotes("0/4007840"));
        assert!(!crate::yaml::needs_quotes("127.0.0.1:15432"));
        assert!(crate::yaml::needs_quotes("1"));
    }
}
