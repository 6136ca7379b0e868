//! One spooled webhook and its on-disk frame (docs/design.md §10).
//!
//! A spool file is the 8-byte magic [`MAGIC`] followed by frames:
//!
//! ```text
//! len   u32 little-endian   length of `payload`, at most MAX_PAYLOAD
//! crc   u32 little-endian   CRC-32 (IEEE, crc32fast) over the 4 `len` bytes, then `payload`
//! payload                   the event as compact JSON (`SpooledEvent`)
//! ```
//!
//! The checksum covers the length too, so a flipped length bit is caught rather than
//! read as a huge or short frame. Reading never trusts a frame it has not checked:
//! [`read_frame`] tells a clean end, a torn tail (the file ends inside a frame) and a
//! corrupt frame apart, and only a checked frame is ever parsed as JSON.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::outcome::{Action, FlapPolicy, Labels, Outcome, Priority};

/// The first bytes of every spool file: the format's name and version.
pub const MAGIC: &[u8; 8] = b"AGSPOOL1";

/// Bytes before a frame's payload: length and checksum.
pub const FRAME_HEADER: usize = 8;

/// The largest payload a frame may declare. An outcome is a fingerprint, a title and the
/// labels a mapping picked out of a body of at most `limits.max_body_bytes` (1 MiB by
/// default); a longer length is corruption, not a record.
pub const MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

/// A webhook accepted while the store was away: what the store step needs, no more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpooledEvent {
    /// The source id the webhook came to.
    pub source: String,
    /// When this replica received it (Unix ms); never decreasing within one spool.
    pub arrival_ms: i64,
    pub action: SpooledAction,
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The labels' JSON object text (`{}` when none).
    pub labels: String,
    /// The outcome's own `event_time` (Unix ms), when its mapping gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The lifecycle policies the gateway filled in when the webhook arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_resolve_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<SpooledFlapping>,
}

/// A flapping policy as spooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledFlapping {
    pub opens: u32,
    pub within_ms: u64,
}

/// Only outcomes that need the store are spooled; `ignore` never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpooledAction {
    Open,
    Resolve,
}

impl SpooledEvent {
    /// The event for an `open`/`resolve` outcome; `None` for `ignore` or an outcome with
    /// no fingerprint (the store would refuse both).
    pub fn of(source: &str, outcome: &Outcome, arrival_ms: i64) -> Option<SpooledEvent> {
        let action = match outcome.action {
            Action::Open => SpooledAction::Open,
            Action::Resolve => SpooledAction::Resolve,
            Action::Ignore => return None,
        };
        Some(SpooledEvent {
            source: source.to_owned(),
            arrival_ms,
            action,
            fingerprint: outcome.fingerprint.clone()?,
            priority: outcome.priority.map(|p| p.as_str().to_owned()),
            title: outcome.title.clone(),
            labels: outcome.labels.as_json().to_owned(),
            event_time: outcome.event_time,
            rule: outcome.rule.clone(),
            auto_resolve_after_ms: outcome.auto_resolve_after_ms,
            flapping: outcome.flapping.map(|f| SpooledFlapping {
                opens: f.opens,
                within_ms: f.within_ms,
            }),
        })
    }

    /// The outcome to replay. Its `event_time` is the payload's own when it had one, else
    /// the arrival time: replayed events are then ordered by when they reached this
    /// replica, and a replay can never overtake a newer event (see docs/design.md §10).
    pub fn to_outcome(&self) -> Result<Outcome, String> {
        let priority = match &self.priority {
            None => None,
            Some(p) => Some(Priority::parse(p).ok_or_else(|| format!("unknown priority {p:?}"))?),
        };
        Ok(Outcome {
            action: match self.action {
                SpooledAction::Open => Action::Open,
                SpooledAction::Resolve => Action::Resolve,
            },
            fingerprint: Some(self.fingerprint.clone()),
            priority,
            title: self.title.clone(),
            labels: Labels::from_json(&self.labels)?,
            event_time: Some(self.event_time.unwrap_or(self.arrival_ms)),
            rule: self.rule.clone(),
            reason: None,
            auto_resolve_after_ms: self.auto_resolve_after_ms,
            flapping: self.flapping.map(|f| FlapPolicy {
                opens: f.opens,
                within_ms: f.within_ms,
            }),
        })
    }
}

/// The whole frame (header and payload) for `event`.
pub fn encode(event: &SpooledEvent) -> Result<Vec<u8>, String> {
    let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n <= MAX_PAYLOAD)
        .ok_or_else(|| format!("record of {} bytes is over the limit", payload.len()))?;
    let len = len.to_le_bytes();
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&len);
    frame.extend_from_slice(&checksum(len, &payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

fn checksum(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    hasher.finalize()
}

/// Why reading stopped before a clean end.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The input ended inside a frame (`have` of its `need` bytes): a write cut short.
    Torn { need: u64, have: u64 },
    /// A complete frame that fails its check; `len` bytes is what it claimed to span.
    Corrupt { reason: String, len: u64 },
}

/// Reads the next frame's payload: `Ok(None)` at a clean end of input. A frame whose
/// checksum fails is `Corrupt` (its JSON is never looked at); the caller decides whether
/// it is a torn tail (nothing follows it) or a damaged middle.
pub fn read_frame(input: &mut impl Read) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; FRAME_HEADER];
    let got = read_full(input, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < FRAME_HEADER {
        return Err(FrameError::Torn {
            need: FRAME_HEADER as u64,
            have: got as u64,
        }
        .into());
    }
    let len_bytes = [header[0], header[1], header[2], header[3]];
    let len = u32::from_le_bytes(len_bytes);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_PAYLOAD {
        return Err(FrameError::Corrupt {
            reason: format!("frame length {len} is over {MAX_PAYLOAD}"),
            len: FRAME_HEADER as u64,
        }
        .into());
    }
    let mut payload = vec![0u8; len as usize];
    let got = read_full(input, &mut payload)?;
    let total = FRAME_HEADER as u64 + u64::from(len);
    if got < payload.len() {
        return Err(FrameError::Torn {
            need: total,
            have: (FRAME_HEADER + got) as u64,
        }
        .into());
    }
    if checksum(len_bytes, &payload) != crc {
        return Err(FrameError::Corrupt {
            reason: "checksum mismatch".to_owned(),
            len: total,
        }
        .into());
    }
    Ok(Some(payload))
}

/// Parses a checked frame's payload.
pub fn decode(payload: &[u8]) -> Result<SpooledEvent, FrameError> {
    serde_json::from_slice(payload).map_err(|e| FrameError::Corrupt {
        reason: format!("checked frame is not a spooled event: {e}"),
        len: (FRAME_HEADER + payload.len()) as u64,
    })
}

/// A frame problem or an I/O error reading it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0:?}")]
    Frame(FrameError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> Self {
        ReadError::Frame(e)
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> SpooledEvent {
        SpooledEvent {
            source: "statuscake".into(),
            arrival_ms: 1_700_000_000_000 + n,
            action: if n % 2 == 0 {
                SpooledAction::Open
            } else {
                SpooledAction::Resolve
            },
            fingerprint: format!("site-{n}|https://example.com"),
            priority: Some("high".into()),
            title: Some("Site down".into()),
            labels: r#"{"url":"https://example.com"}"#.into(),
            event_time: None,
            rule: Some("down".into()),
            auto_resolve_after_ms: Some(3_600_000),
            flapping: Some(SpooledFlapping {
                opens: 5,
                within_ms: 600_000,
            }),
        }
    }

    fn read_all(bytes: &[u8]) -> (Vec<SpooledEvent>, Option<FrameError>) {
        let mut input = bytes;
        let mut out = Vec::new();
        loop {
            match read_frame(&mut input) {
                Ok(None) => return (out, None),
                Ok(Some(payload)) => match decode(&payload) {
                    Ok(e) => out.push(e),
                    Err(e) => return (out, Some(e)),
                },
                Err(ReadError::Frame(e)) => return (out, Some(e)),
                Err(ReadError::Io(e)) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn frames_round_trip_in_order() {
        let mut bytes = Vec::new();
        for n in 0..5 {
            bytes.extend(encode(&event(n)).expect("encode"));
        }
        let (events, stop) = read_all(&bytes);
        assert_eq!(stop, None);
        assert_eq!(events, (0..5).map(event).collect::<Vec<_>>());
    }

    #[test]
    fn every_cut_inside_the_last_frame_is_a_torn_tail() {
        let first = encode(&event(0)).expect("encode");
        let second = encode(&event(1)).expect("encode");
        let mut bytes = first.clone();
        bytes.extend(&second);
        for cut in 1..second.len() {
            let (events, stop) = read_all(&bytes[..first.len() + cut]);
            assert_eq!(events, vec![event(0)], "cut {cut}");
            assert!(
                matches!(stop, Some(FrameError::Torn { .. })),
                "cut {cut}: {stop:?}"
            );
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_frame_is_caught_by_the_checksum() {
        let frame = encode(&event(0)).expect("encode");
        for at in 0..frame.len() {
            let mut bad = frame.clone();
            bad[at] ^= 0x04;
            let (events, stop) = read_all(&bad);
            assert!(events.is_empty(), "byte {at} flipped yet parsed");
            assert!(stop.is_some(), "byte {at}");
        }
    }

    #[test]
    fn a_corrupt_middle_frame_stops_reading_there() {
        let mut bytes = Vec::new();
        let frames: Vec<Vec<u8>> = (0..3).map(|n| encode(&event(n)).expect("enc")).collect();
        for f in &frames {
            bytes.extend(f);
        }
        // Damage the second frame's payload.
        bytes[frames[0].len() + FRAME_HEADER + 3] ^= 0xff;
        let (events, stop) = read_all(&bytes);
        assert_eq!(events, vec![event(0)]);
        match stop {
            Some(FrameError::Corrupt { len, .. }) => assert_eq!(len, frames[1].len() as u64),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_absurd_length_is_corrupt_not_an_allocation() {
        let mut bytes = (MAX_PAYLOAD + 1).to_le_bytes().to_vec();
        bytes.extend([0; 4]);
        let (_, stop) = read_all(&bytes);
        assert!(matches!(stop, Some(FrameError::Corrupt { .. })), "{stop:?}");
    }

    #[test]
    fn replay_outcome_takes_the_arrival_time_only_when_the_payload_had_none() {
        let mut e = event(0);
        let outcome = e.to_outcome().expect("outcome");
        assert_eq!(outcome.event_time, Some(e.arrival_ms));
        assert_eq!(outcome.action, Action::Open);
        assert_eq!(outcome.priority, Some(Priority::High));
        e.event_time = Some(5);
        assert_eq!(e.to_outcome().expect("outcome").event_time, Some(5));
    }

    #[test]
    fn ignore_outcomes_are_never_spooled() {
        let outcome = Outcome::ignore(None, "paused".into());
        assert_eq!(SpooledEvent::of("s", &outcome, 1), None);
    }
}
