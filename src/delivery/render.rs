//! Request bodies, pure: the default webhook JSON (or a `template:`), Slack's
//! incoming-webhook message, PagerDuty's Events API v2 event; and the HMAC signature.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::feed::FeedEntry;
use crate::config::{SinkKind, SinkSettings};
use crate::outcome::Priority;
use crate::store::{Status, Transition};

/// What one attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rendered {
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

/// The event as JSON: `{event_id, transition, at, incident: {…}}`.
pub fn event_json(entry: &FeedEntry) -> Value {
    let mut value = serde_json::to_value(&entry.event).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        // The body names the event's id `event_id` (the store's type calls it `id`).
        map.remove("id");
        map.insert("event_id".into(), Value::String(entry.id.clone()));
    }
    value
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map(|mut mac| {
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    });
    format!("sha256={}", mac.unwrap_or_default())
}

/// PagerDuty's `dedup_key`: `{source}:` + hex SHA-256 of the fingerprint, so a resolve
/// finds its trigger whatever the fingerprint's length (the key stays under 255 chars
/// for any source id under 190).
pub fn dedup_key(source: &str, fingerprint: &str) -> String {
    format!(
        "{source}:{}",
        hex::encode(Sha256::digest(fingerprint.as_bytes()))
    )
}

fn severity(priority: Option<Priority>) -> &'static str {
    match priority {
        Some(Priority::Critical) => "critical",
        Some(Priority::High) => "error",
        Some(Priority::Medium) | None => "warning",
        Some(Priority::Low) => "info",
    }
}

fn title_of(entry: &FeedEntry) -> String {
    let i = &entry.event.incident;
    match &i.title {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => format!("{} {}", i.source, i.fingerprint),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether the entry says the incident is resolved (a resolve, or a flapping spell that
/// ended with the incident resolved).
fn ends_resolved(entry: &FeedEntry) -> bool {
    match entry.event.transition {
        Transition::Resolved => true,
        Transition::FlappingEnded => entry.event.incident.status == Status::Resolved,
        _ => false,
    }
}

/// What happened, in words: the transition, with who acted or how a flapping spell ended.
fn what_happened(entry: &FeedEntry) -> String {
    let e = &entry.event;
    let actor = e.actor.as_deref().unwrap_or("someone");
    match e.transition {
        Transition::FlappingEnded => format!(
            "stopped flapping after {} opens: now {}",
            e.incident.flap_count.unwrap_or(0),
            e.incident.status.as_str()
        ),
        Transition::Acknowledged => format!("acknowledged by {actor}"),
        Transition::Noted => format!("noted by {actor}: {}", e.note.as_deref().unwrap_or("")),
        other => other.as_str().to_owned(),
    }
}

/// A Slack incoming-webhook message: `text` (the notification fallback) and `blocks`
/// (a header with the title, a section with source, priority, status and a link to the
/// incident in the API).
pub fn slack_body(entry: &FeedEntry, public_url: &str) -> Value {
    let i = &entry.event.incident;
    let mark = if ends_resolved(entry) {
        "[RESOLVED] "
    } else {
        ""
    };
    let title = title_of(entry);
    let priority = i.priority.map_or("none", Priority::as_str);
    let link = format!("{public_url}/v1/incidents/{}", i.id);
    let what = truncate(&what_happened(entry), 1000);
    let text = match entry.event.transition {
        Transition::Opened | Transition::Updated | Transition::Resolved => {
            format!("{mark}{title} ({} {what}, priority {priority})", i.source)
        }
        _ => format!("{mark}{title} ({}) {what}", i.source),
    };
    json!({
        "text": text,
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": truncate(&format!("{mark}{title}"), 150)}
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": format!("*Source*\n{}", i.source)},
                    {"type": "mrkdwn", "text": format!("*Priority*\n{priority}")},
                    {"type": "mrkdwn", "text": format!("*Status*\n{what}")},
                    {"type": "mrkdwn", "text": format!("*Incident*\n<{link}|#{}>", i.id)}
                ]
            }
        ]
    })
}

/// A PagerDuty Events API v2 event: `trigger` for opened/updated, `resolve` for resolved,
/// `acknowledge` for acknowledged; `flapping_ended` triggers when the incident is open
/// and resolves when it is resolved. `None` for a note (PagerDuty has no event for one).
pub fn pagerduty_body(entry: &FeedEntry, routing_key: &str, public_url: &str) -> Option<Value> {
    let i = &entry.event.incident;
    let dedup = dedup_key(&i.source, &i.fingerprint);
    let link = format!("{public_url}/v1/incidents/{}", i.id);
    let action = match entry.event.transition {
        Transition::Noted => return None,
        Transition::Acknowledged => "acknowledge",
        _ if ends_resolved(entry) => "resolve",
        _ => "trigger",
    };
    if action != "trigger" {
        return Some(json!({
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": dedup,
        }));
    }
    let mut details = json!({
        "incident_id": i.id,
        "fingerprint": &*i.fingerprint,
        "labels": i.labels.to_map(),
        "event_count": i.event_count,
        "event_id": entry.id,
    });
    if let (Some(n), Value::Object(map)) = (i.flap_count, &mut details) {
        map.insert("flap_count".into(), n.into());
    }
    Some(json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": truncate(&title_of(entry), 1024),
            "source": &*i.source,
            "severity": severity(i.priority),
            "timestamp": crate::clock::format_rfc3339_ms(entry.event.at),
            "custom_details": details
        },
        "links": [{"href": link, "text": format!("alertgate incident {}", i.id)}]
    }))
}

/// The body a sink gets for `entry`.
pub(super) fn render(
    sink: &SinkSettings,
    entry: &FeedEntry,
    public_url: &str,
) -> Result<Rendered, String> {
    let json_body = |v: &Value| Rendered {
        body: serde_json::to_vec(v).unwrap_or_default(),
        content_type: "application/json",
    };
    match &sink.kind {
        SinkKind::Webhook { template: None } => Ok(json_body(&event_json(entry))),
        SinkKind::Webhook {
            template: Some(template),
        } => {
            let event = jmespath::Variable::from_serializable(event_json(entry))
                .map_err(|e| format!("event as JSON: {e}"))?;
            let text = template
                .compiled
                .render_lossy(&std::sync::Arc::new(event))
                .map_err(|e| format!("template: {e}"))?;
            Ok(Rendered {
                body: text.into_bytes(),
                content_type: "application/json",
            })
        }
        SinkKind::Slack => Ok(json_body(&slack_body(entry, public_url))),
        SinkKind::PagerDuty { routing_key } => pagerduty_body(entry, routing_key, public_url)
            .map(|v| json_body(&v))
            .ok_or_else(|| "PagerDuty has no event for a note".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn dedup_key_is_source_and_fingerprint_digest() {
        let key = dedup_key("sc", &"x".repeat(10_000));
        assert!(key.starts_with("sc:"));
        assert_eq!(key.len(), 3 + 64);
    }

    fn entry(transition: Transition, status: Status, flap_count: Option<u64>) -> FeedEntry {
        FeedEntry {
            id: "7".into(),
            event: crate::store::IncidentEvent {
                id: "7".into(),
                transition,
                at: 1_000,
                incident: crate::store::Incident {
                    id: "42".into(),
                    source: "sc".into(),
                    fingerprint: "web".into(),
                    status,
                    priority: None,
                    title: Some("Web down".into()),
                    labels: crate::outcome::Labels::from_json("{}").expect("labels"),
                    opened_at: 1_000,
                    last_event_at: 1_000,
                    resolved_at: None,
                    event_count: 1,
                    flapping: false,
                    flap_count,
                    acknowledged_at: None,
                    acknowledged_by: None,
                    resolved_by: None,
                },
                actor: Some("user:alice".into()),
                note: Some("on it".into()),
            },
        }
    }

    #[test]
    fn flapping_ended_says_how_it_ended() {
        let open = entry(Transition::FlappingEnded, Status::Open, Some(4));
        let text = slack_body(&open, "http://gw")["text"].clone();
        assert_eq!(
            text,
            "Web down (sc) stopped flapping after 4 opens: now open"
        );
        let pd = pagerduty_body(&open, "rk", "http://gw").expect("body");
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["payload"]["custom_details"]["flap_count"], 4);

        let resolved = entry(Transition::FlappingEnded, Status::Resolved, Some(2));
        let slack = slack_body(&resolved, "http://gw");
        assert_eq!(
            slack["text"],
            "[RESOLVED] Web down (sc) stopped flapping after 2 opens: now resolved"
        );
        let pd = pagerduty_body(&resolved, "rk", "http://gw").expect("body");
        assert_eq!(pd["event_action"], "resolve");
        assert_eq!(pd["dedup_key"], dedup_key("sc", "web"));
    }

    #[test]
    fn people_acts_in_slack_and_pagerduty() {
        let acked = entry(Transition::Acknowledged, Status::Open, None);
        assert_eq!(
            slack_body(&acked, "http://gw")["text"],
            "Web down (sc) acknowledged by user:alice"
        );
        let pd = pagerduty_body(&acked, "rk", "http://gw").expect("body");
        assert_eq!(pd["event_action"], "acknowledge");
        assert_eq!(pd["dedup_key"], dedup_key("sc", "web"));
        assert!(pd.get("payload").is_none());

        let noted = entry(Transition::Noted, Status::Open, None);
        assert_eq!(
            slack_body(&noted, "http://gw")["text"],
            "Web down (sc) noted by user:alice: on it"
        );
        assert!(pagerduty_body(&noted, "rk", "http://gw").is_none());
    }

    #[test]
    fn severity_follows_priority() {
        assert_eq!(severity(Some(Priority::Critical)), "critical");
        assert_eq!(severity(Some(Priority::High)), "error");
        assert_eq!(severity(Some(Priority::Medium)), "warning");
        assert_eq!(severity(None), "warning");
        assert_eq!(severity(Some(Priority::Low)), "info");
    }
}
