//! Slack and PagerDuty bodies, field by field, as a receiver gets them.

use std::time::Duration;

use alertgate::delivery::dedup_key;
use serial_test::serial;

use crate::harness::Backend;
use crate::receiver::{always, gateway, hook, started, wait_for, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn slack_and_pagerduty_bodies() {
    let slack = Receiver::start(always(200)).await;
    let pd = Receiver::start(always(202)).await;
    let extra = format!(
        "public_url: https://gw.example.com/\nsinks:\n  chat:\n    type: slack\n    url: \"{}\"\n  pager:\n    type: pagerduty\n    url: \"{}\"\n    routing_key: rk-123\n    transitions: [opened, resolved]\n    min_priority: medium\n",
        slack.url(),
        pd.url()
    );
    let (gw, delivery) = gateway(Backend::Memory, &extra, None).await;
    started(&delivery).await;
    hook(&gw, "web", "down").await;
    hook(&gw, "web", "down").await;
    hook(&gw, "web", "up").await;
    wait_for("slack x3, pagerduty x2", Duration::from_secs(30), || {
        slack.accepted().len() >= 3 && pd.accepted().len() >= 2
    })
    .await;
    let id = gw.incidents().await[0]["id"].as_str().unwrap().to_owned();

    let s: Vec<serde_json::Value> = slack
        .accepted()
        .iter()
        .map(super::receiver::Received::json)
        .collect();
    assert_eq!(s.len(), 3);
    let opened = &s[0];
    assert!(opened["text"].as_str().unwrap().contains("generic web"));
    assert_eq!(opened["blocks"][0]["type"], "header");
    assert_eq!(opened["blocks"][0]["text"]["type"], "plain_text");
    assert_eq!(opened["blocks"][0]["text"]["text"], "generic web");
    let fields = &opened["blocks"][1]["fields"];
    assert_eq!(opened["blocks"][1]["type"], "section");
    assert_eq!(fields[0]["type"], "mrkdwn");
    assert_eq!(fields[0]["text"], "*Source*\ngeneric");
    assert_eq!(fields[1]["text"], "*Priority*\nmedium");
    assert_eq!(fields[2]["text"], "*Status*\nopened");
    assert_eq!(
        fields[3]["text"],
        format!("*Incident*\n<https://gw.example.com/v1/incidents/{id}|#{id}>")
    );
    assert_eq!(s[1]["blocks"][1]["fields"][2]["text"], "*Status*\nupdated");
    let resolved = &s[2];
    assert!(resolved["text"]
        .as_str()
        .unwrap()
        .starts_with("[RESOLVED] "));
    assert_eq!(
        resolved["blocks"][0]["text"]["text"],
        "[RESOLVED] generic web"
    );

    let p: Vec<serde_json::Value> = pd
        .accepted()
        .iter()
        .map(super::receiver::Received::json)
        .collect();
    assert_eq!(p.len(), 2, "updated is filtered out");
    let key = dedup_key("generic", "web");
    assert_eq!(p[0]["routing_key"], "rk-123");
    assert_eq!(p[0]["event_action"], "trigger");
    assert_eq!(p[0]["dedup_key"], key);
    assert!(key.len() < 255);
    assert_eq!(p[0]["payload"]["summary"], "generic web");
    assert_eq!(p[0]["payload"]["source"], "generic");
    assert_eq!(p[0]["payload"]["severity"], "warning");
    assert_eq!(
        p[0]["payload"]["custom_details"]["incident_id"],
        id.as_str()
    );
    assert_eq!(
        p[0]["links"][0]["href"],
        format!("https://gw.example.com/v1/incidents/{id}")
    );
    assert_eq!(p[1]["event_action"], "resolve");
    assert_eq!(p[1]["dedup_key"], key);
    assert_eq!(p[1]["routing_key"], "rk-123");
    delivery.stop().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial(timing)]
async fn webhook_template_and_filters() {
    let rx = Receiver::start(always(204)).await;
    let extra = format!(
        "sinks:\n  custom:\n    type: webhook\n    url: \"{}\"\n    headers: {{X-Team: ops}}\n    transitions: [resolved]\n    template: '{{\"say\": \"{{{{ incident.fingerprint }}}} is {{{{ transition }}}}\", \"id\": \"{{{{ event_id }}}}\"}}'\n  none:\n    type: webhook\n    url: \"{}\"\n    sources: [statuscake]\n",
        rx.url(),
        rx.url()
    );
    let (gw, delivery) = gateway(Backend::Memory, &extra, None).await;
    started(&delivery).await;
    hook(&gw, "api", "down").await;
    hook(&gw, "api", "up").await;
    wait_for("one delivery", Duration::from_secs(30), || {
        !rx.accepted().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.accepted();
    assert_eq!(
        got.len(),
        1,
        "only the resolve, only the generic-source sink"
    );
    assert_eq!(got[0].header("x-team"), "ops");
    let body = got[0].json();
    assert_eq!(body["say"], "api is resolved");
    assert_eq!(body["id"], got[0].header("x-alertgate-event-id"));
    delivery.stop().await;
    gw.stop().await;
}
