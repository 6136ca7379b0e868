//! `field_equals` and `field_in`: a decoded payload field compared with a secret or an
//! allow-list.
//!
//! StatusCake puts `Token` = md5(username + API key) in every body: a static secret, so
//! it is compared, never recomputed. Statuspage puts `page.id` in every body: not a
//! secret, but an allow-list keeps other pages' webhooks out.

use std::fmt;

use jmespath::Variable;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::decode::{Payload, Shape};
use crate::mapping::Expr;

/// A field path: JMESPath (`page.id`), or a top-level name that is not one (`X-Token`).
fn compile_field(field: &str) -> Result<Expr, String> {
    if field.trim().is_empty() {
        return Err("field must not be empty".into());
    }
    Expr::compile(field).or_else(|e| {
        let quoted = serde_json::to_string(field).map_err(|_| e.to_string())?;
        Expr::compile(&quoted).map_err(|_| e.to_string())
    })
}

/// The field's text: strings as they are, numbers and booleans as their JSON text.
fn field_text(field: &Expr, payload: &Payload) -> Result<String, String> {
    let value = field
        .search(payload)
        .map_err(|_| format!("field {} cannot be read", field.as_str()))?;
    match &*value {
        Variable::String(s) => Ok(s.clone()),
        Variable::Number(n) => Ok(n.to_string()),
        Variable::Bool(b) => Ok(b.to_string()),
        Variable::Null => Err(format!("field {} is missing", field.as_str())),
        _ => Err(format!("field {} is not a string", field.as_str())),
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// `field_equals`: the field must equal a secret. Only the secret's SHA-256 is kept, and
/// digests are compared, so neither content nor length leaks through timing.
#[derive(Clone)]
pub struct FieldEquals {
    field: Expr,
    secret: [u8; 32],
}

impl fmt::Debug for FieldEquals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldEquals({:?}, …)", self.field.as_str())
    }
}

impl FieldEquals {
    pub fn new(field: &str, secret: &str) -> Result<FieldEquals, String> {
        if secret.is_empty() {
            return Err("secret must not be empty".into());
        }
        Ok(FieldEquals {
            field: compile_field(field)?,
            secret: digest(secret),
        })
    }

    pub fn reads(&self) -> Shape {
        self.field.reads(false)
    }

    pub fn check(&self, payload: &Payload) -> Result<(), String> {
        let text = field_text(&self.field, payload)?;
        if bool::from(digest(&text).ct_eq(&self.secret)) {
            Ok(())
        } else {
            Err(format!("field {} does not match", self.field.as_str()))
        }
    }
}

/// `field_in`: the field must be one of `values`; every value is compared.
#[derive(Clone)]
pub struct FieldIn {
    field: Expr,
    values: Vec<[u8; 32]>,
}

impl fmt::Debug for FieldIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FieldIn({:?}, {} value(s))",
            self.field.as_str(),
            self.values.len()
        )
    }
}

impl FieldIn {
    pub fn new(field: &str, values: &[String]) -> Result<FieldIn, String> {
        if values.is_empty() {
            return Err("values must list at least one value".into());
        }
        Ok(FieldIn {
            field: compile_field(field)?,
            values: values.iter().map(|v| digest(v)).collect(),
        })
    }

    pub fn reads(&self) -> Shape {
        self.field.reads(false)
    }

    pub fn check(&self, payload: &Payload) -> Result<(), String> {
        let text = digest(&field_text(&self.field, payload)?);
        let found = self
            .values
            .iter()
            .fold(Choice::from(0), |found, v| found | v.ct_eq(&text));
        if bool::from(found) {
            Ok(())
        } else {
            Err(format!(
                "field {} is not an allowed value",
                self.field.as_str()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Payload {
        crate::decode::decode(
            text.as_bytes(),
            Some("application/json"),
            crate::decode::DecodeMode::default(),
        )
        .expect("json")
    }

    fn form(text: &str) -> Payload {
        crate::decode::decode(
            text.as_bytes(),
            Some("application/x-www-form-urlencoded"),
            crate::decode::DecodeMode::default(),
        )
        .expect("form")
    }

    #[test]
    fn field_equals_good_bad_missing() {
        let check = FieldEquals::new("Token", "5f4dcc3b5aa765d61d8327deb882cf99").expect("ok");
        assert_eq!(
            check.check(&form("Token=5f4dcc3b5aa765d61d8327deb882cf99&Status=Down")),
            Ok(())
        );
        assert_eq!(
            check.check(&form("Token=nope&Status=Down")),
            Err("field Token does not match".into())
        );
        assert_eq!(
            check.check(&form("Status=Down")),
            Err("field Token is missing".into())
        );
        assert!(!format!("{check:?}").contains("5f4dcc"));
        assert!(FieldEquals::new("Token", "").is_err());
    }

    #[test]
    fn field_in_reads_a_jmespath_and_a_non_identifier_name() {
        let check = FieldIn::new("page.id", &["pg1".into(), "pg2".into()]).expect("ok");
        assert_eq!(check.check(&json(r#"{"page":{"id":"pg2"}}"#)), Ok(()));
        assert_eq!(
            check.check(&json(r#"{"page":{"id":"other"}}"#)),
            Err("field page.id is not an allowed value".into())
        );
        assert_eq!(
            check.check(&json(r#"{"page":{}}"#)),
            Err("field page.id is missing".into())
        );
        assert_eq!(
            check.check(&json(r#"{"page":{"id":{"x":1}}}"#)),
            Err("field page.id is not a string".into())
        );
        let dashed = FieldIn::new("X-Team", &["ops".into()]).expect("quoted");
        assert_eq!(dashed.check(&form("X-Team=ops")), Ok(()));
        let number = FieldIn::new("org", &["42".into()]).expect("ok");
        assert_eq!(number.check(&json(r#"{"org":42}"#)), Ok(()));
        assert!(FieldIn::new("page.id", &[]).is_err());
    }
}
