//! YAML path → line:column, so errors found after deserialising still name their place.
//!
//! serde_yaml reports a position only for syntax and type errors; the checks that run
//! on the deserialised spec (bad JMESPath, unknown action, empty table) look their key up
//! here by the same path syntax `serde_path_to_error` prints (`rules[1].action.map`).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// Where each key and value of a YAML document starts (1-based line and column).
#[derive(Debug, Default)]
pub struct Locations {
    marks: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

impl Locations {
    /// Scans `text`; a document that does not parse yields no locations.
    pub fn scan(text: &str) -> Locations {
        let mut marks = HashMap::new();
        let mut frames: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Ok((event, mark)) = parser.next_token() {
            let place = (mark.line(), mark.col() + 1);
            match event {
                Event::StreamEnd => break,
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map {
                        path,
                        key: key @ None,
                    }) = frames.last_mut()
                    {
                        // A block mapping starts where its first key does.
                        if !path.is_empty() {
                            marks.entry(path.clone()).or_insert(place);
                        }
                        marks.insert(join(path, &value), place);
                        *key = Some(value);
                    } else {
                        if let Some(path) = child_path(&frames) {
                            marks.insert(path, place);
                        }
                        advance(&mut frames);
                    }
                }
                Event::Alias(_) => {
                    if let Some(path) = child_path(&frames) {
                        marks.entry(path).or_insert(place);
                    }
                    advance(&mut frames);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = if frames.is_empty() {
                        Some(String::new())
                    } else {
                        child_path(&frames)
                    };
                    let Some(path) = path else {
                        // A complex (non-scalar) key: not addressable by a path.
                        frames.push(Frame::Seq {
                            path: "?".into(),
                            next: 0,
                        });
                        continue;
                    };
                    if matches!(event, Event::SequenceStart(..)) {
                        marks.entry(path.clone()).or_insert(place);
                    }
                    frames.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    frames.pop();
                    advance(&mut frames);
                }
                _ => {}
            }
        }
        Locations { marks }
    }

    /// The place of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut path = path;
        loop {
            if let Some(place) = self.marks.get(path) {
                return Some(*place);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn child_path(frames: &[Frame]) -> Option<String> {
    match frames.last()? {
        Frame::Map {
            path,
            key: Some(key),
        } => Some(join(path, key)),
        Frame::Map { key: None, .. } => None,
        Frame::Seq { path, next } => Some(format!("{path}[{next}]")),
    }
}

fn advance(frames: &mut [Frame]) {
    match frames.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { next, .. }) => *next += 1,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "integration: demo\nrules:\n  - name: first\n    action:\n      from: Status\n      map: { down: open }\n  - name: second\n    fingerprint: \"{{ id }}\"\n";

    #[test]
    fn finds_keys_values_and_sequence_items() {
        let loc = Locations::scan(DOC);
        assert_eq!(loc.find("integration"), Some((1, 14)));
        assert_eq!(loc.find("rules[0].name"), Some((3, 11)));
        assert_eq!(loc.find("rules[0].action.from"), Some((5, 13)));
        assert_eq!(loc.find("rules[0].action.map.down"), Some((6, 20)));
        assert_eq!(loc.find("rules[1].fingerprint"), Some((8, 18)));
    }

    #[test]
    fn unknown_path_falls_back_to_nearest_ancestor() {
        let loc = Locations::scan(DOC);
        assert_eq!(loc.find("rules[1].priority"), loc.find("rules[1]"));
        assert_eq!(Locations::scan(": : [").find("x"), None);
    }
}
