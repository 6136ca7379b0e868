//! What every store test file shares: the stream bound, outcomes to apply, queries.

use alertgate::outcome::{Action, Labels, Outcome};
use alertgate::store::{IncidentStore, ListQuery, Status};

/// Event stream bound for every case but the one that tests the bound.
pub const STREAM_LEN: usize = 1_000;

/// Redis `resolved_ttl` for every case but the expiry ones: longer than any test runs.
pub const RESOLVED_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

pub fn outcome(action: Action, fingerprint: &str) -> Outcome {
    Outcome {
        action,
        fingerprint: Some(fingerprint.to_owned()),
        priority: None,
        title: None,
        labels: Labels::default(),
        event_time: None,
        rule: Some("test".into()),
        reason: None,
        auto_resolve_after_ms: None,
        flapping: None,
    }
}

pub fn open(fingerprint: &str) -> Outcome {
    outcome(Action::Open, fingerprint)
}

pub fn resolve(fingerprint: &str) -> Outcome {
    outcome(Action::Resolve, fingerprint)
}

pub fn at(mut o: Outcome, event_time: i64) -> Outcome {
    o.event_time = Some(event_time);
    o
}

pub fn query(status: Option<Status>, source: Option<&str>, limit: usize) -> ListQuery {
    ListQuery {
        status,
        source: source.map(str::to_owned),
        limit,
        ..ListQuery::default()
    }
}

/// Every incident the store lists, newest first, walking all pages.
pub async fn list_all<S: IncidentStore>(store: &S, mut q: ListQuery) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let page = store.list(&q).await.expect("list");
        ids.extend(page.incidents.iter().map(|i| i.id.clone()));
        match page.next_cursor {
            Some(cursor) => q.cursor = Some(cursor),
            None => return ids,
        }
    }
}

/// The incident an apply step concerned, as the store holds it now (a step answers only
/// its id, priority and flapping state).
pub async fn held<S: IncidentStore>(
    s: &S,
    applied: &alertgate::store::Applied,
) -> alertgate::store::Incident {
    let id = &applied
        .incident
        .as_ref()
        .expect("the step concerned an incident")
        .id;
    s.get(id).await.expect("get").expect("the incident is kept")
}
