//! Where a key sits in a YAML file: `agents[1].password` -> line 9.
//!
//! serde gives no positions once a value is deserialised, so validation
//! problems (a duplicate agent id, a bad listen string) are located
//! afterwards by walking the file's YAML events (yaml-rust2), which carry
//! line numbers, and naming each node with the same path syntax as the
//! problems use.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The 1-based line of every key path in `text` (empty if it does not parse).
pub fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut walker = Walker::default();
    let _ = Parser::new_from_str(text).load(&mut walker, false);
    walker.lines
}

enum Container {
    /// A mapping, and the key whose value comes next (if it was read).
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Walker {
    stack: Vec<Container>,
    lines: HashMap<String, usize>,
}

impl Walker {
    /// The path of the node that starts now, in the container on top.
    fn child_path(&self) -> Option<String> {
        match self.stack.last()? {
            Container::Map { path, key: Some(k) } if path.is_empty() => Some(k.clone()),
            Container::Map { path, key: Some(k) } => Some(format!("{path}.{k}")),
            Container::Map { key: None, .. } => None,
            Container::Seq { path, next } => Some(format!("{path}[{next}]")),
        }
    }

    /// A value node has ended: the container moves on to its next entry.
    fn advance(&mut self) {
        match self.stack.last_mut() {
            Some(Container::Map { key, .. }) => *key = None,
            Some(Container::Seq { next, .. }) => *next += 1,
            None => {}
        }
    }

    fn record(&mut self, path: &str, mark: Marker) {
        // The key's own line wins over its value's (they differ for blocks).
        self.lines.entry(path.to_owned()).or_insert(mark.line());
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Container::Map {
                    path,
                    key: key @ None,
                }) = self.stack.last_mut()
                {
                    let full = if path.is_empty() {
                        value.clone()
                    } else {
                        format!("{path}.{value}")
                    };
                    *key = Some(value);
                    self.record(&full, mark);
                    return;
                }
                if let Some(path) = self.child_path() {
                    self.record(&path, mark);
                }
                self.advance();
            }
            Event::Alias(_) => self.advance(),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = self.child_path().unwrap_or_default();
                if !path.is_empty() {
                    self.record(&path, mark);
                }
                self.stack.push(if matches!(ev, Event::MappingStart(..)) {
                    Container::Map { path, key: None }
                } else {
                    Container::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.advance();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key_lines;

    #[test]
    fn paths_get_their_lines() {
        let text = "\
sip:
  listen: [\"udp:127.0.0.1:5060\", \"tcp:127.0.0.1:5060\"]
  domain: example.com
agents:
  - id: \"1001\"
    password: a
  - id: \"1002\"

    password: b
";
        let lines = key_lines(text);
        assert_eq!(lines.get("sip"), Some(&1));
        assert_eq!(lines.get("sip.listen"), Some(&2));
        assert_eq!(lines.get("sip.listen[1]"), Some(&2));
        assert_eq!(lines.get("sip.domain"), Some(&3));
        assert_eq!(lines.get("agents[0].password"), Some(&6));
        assert_eq!(lines.get("agents[1]"), Some(&7));
        assert_eq!(lines.get("agents[1].password"), Some(&9));
    }

    #[test]
    fn garbage_gives_no_lines_and_no_panic() {
        assert!(key_lines(": : [\n").len() < 3);
    }
}
