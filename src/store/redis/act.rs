//! People's acts on incidents (acknowledge, resolve, note): one `act.lua` run in the
//! incident's bucket, after a read that finds its (source, fingerprint) key.

use std::sync::LazyLock;

use redis::{Script, Value};

use super::keys::bucket_of;
use super::reply::{items, parse_hash_reply, text};
use super::store::RedisStore;
use crate::store::model::{parse_id, Act, Acted, StoreError};

static ACT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("act.lua")));

impl RedisStore {
    pub(super) async fn act_on(
        &self,
        id: &str,
        act: &Act,
        by: &str,
        now_ms: i64,
    ) -> Result<Acted, StoreError> {
        let Some(number) = parse_id(id) else {
            return Ok(Acted::NotFound);
        };
        if bucket_of(number) >= self.keys.buckets {
            return Ok(Acted::NotFound);
        }
        let Some(incident) = self.fetch_incidents(&[number]).await?.pop().flatten() else {
            return Ok(Acted::NotFound);
        };
        let (bucket, fp_key) = self
            .keys
            .fingerprint(&incident.source, &incident.fingerprint);
        let (name, note) = match act {
            Act::Acknowledge => ("acknowledge", ""),
            Act::Resolve => ("resolve", ""),
            Act::Note(text) => ("note", text.as_str()),
        };
        let mut invocation = ACT_SCRIPT.key(self.keys.incident(number));
        invocation
            .key(fp_key)
            .key(self.keys.index(bucket, &incident.source))
            .key(self.keys.events(bucket))
            .arg(name)
            .arg(now_ms)
            .arg(by)
            .arg(note)
            .arg(self.stream_cap())
            .arg(self.resolved_ttl_ms)
            .arg(number);
        let reply: Value = self
            .call(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let list = items(reply)?;
        match list.first().cloned().map(text).transpose()?.as_deref() {
            Some("not_found") => return Ok(Acted::NotFound),
            Some("conflict") => {
                let why = list.get(1).cloned().map(text).transpose()?;
                return Ok(Acted::Conflict(match why.as_deref() {
                    Some("the incident is resolved") => "the incident is resolved",
                    Some("the incident is already acknowledged") => {
                        "the incident is already acknowledged"
                    }
                    _ => "the incident is already resolved",
                }));
            }
            _ => {}
        }
        let (_, incident) = parse_hash_reply(Value::Array(list))?;
        Ok(Acted::Done(incident))
    }
}
