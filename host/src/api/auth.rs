//! Bearer tokens and roles.
//!
//! A token is `rpt_<name>_<secret>`: the name finds the record, and the
//! SHA-256 of the secret part is compared in constant time with the stored
//! hash. The store keeps only the hash, so a copy of the store file opens
//! nothing. Roles nest: a viewer reads, an operator also ingests, runs,
//! retries, unblocks and edits the allowlist, an admin does everything.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::Time;
use crate::store::{Store, StoreError, TokenRecord};

/// What a token may do. Ordered: each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a role; expected viewer, operator or admin"))
    }
}

/// Who made a request: the token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The prefix every token starts with, so that secret scanners and people
/// recognise one.
pub const TOKEN_PREFIX: &str = "rpt_";

/// The tokens in force, cached from the store.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_name: Arc<RwLock<HashMap<String, TokenRecord>>>,
    last_used: Arc<RwLock<HashMap<String, Time>>>,
    /// Held across a change's store write and cache update, so that a
    /// revoke cannot land between the two and be undone.
    changes: Arc<tokio::sync::Mutex<()>>,
}

/// Why a token was not accepted; the same answer for every case, so a
/// caller learns nothing about which names exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

impl Tokens {
    /// Loads the tokens from the store.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let records = store.read(|r| r.tokens())?;
        let tokens = Self::default();
        {
            let mut by_name = tokens.by_name.write().unwrap_or_else(|e| e.into_inner());
            for record in records {
                by_name.insert(record.name.clone(), record);
            }
        }
        Ok(tokens)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Checks an `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, Rejected> {
        let token = header
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(Rejected)?;
        let (name, secret) = split_token(token).ok_or(Rejected)?;
        let presented = Sha256::digest(secret.as_bytes());
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let Some(record) = by_name.get(name) else {
            // Hash anyway so that unknown names take as long as known ones.
            let _ = presented.ct_eq(&Sha256::digest(b"-"));
            return Err(Rejected);
        };
        let stored = hex::decode(&record.hash).unwrap_or_default();
        if stored.len() != presented.len() || !bool::from(presented.as_slice().ct_eq(&stored)) {
            return Err(Rejected);
        }
        let role = Role::parse(&record.role).map_err(|_| Rejected)?;
        let caller = Caller {
            name: record.name.clone(),
            role,
        };
        drop(by_name);
        self.last_used
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(caller.name.clone(), Time::now());
        Ok(caller)
    }

    /// Creates a token; returns the token itself, which is stored nowhere.
    pub async fn create(
        &self,
        store: &Store,
        name: &str,
        role: Role,
        actor: &str,
    ) -> Result<(TokenRecord, String), StoreError> {
        check_token_name(name).map_err(StoreError::Invalid)?;
        let mut secret = [0u8; 32];
        crate::vault::fill_random(&mut secret).map_err(StoreError::Storage)?;
        let secret = hex::encode(secret);
        let token = format!("{TOKEN_PREFIX}{name}_{secret}");
        let record = TokenRecord {
            name: name.to_string(),
            role: role.as_str().to_string(),
            hash: hex::encode(Sha256::digest(secret.as_bytes())),
            created_at: Time::now(),
            created_by: actor.to_string(),
        };
        let saved = record.clone();
        let actor = actor.to_string();
        let _changing = self.changes.lock().await;
        store
            .write(move |tx| {
                if tx.token(&saved.name)?.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "a token called `{}` exists; revoke it first or pick another name",
                        saved.name
                    )));
                }
                tx.put_token(&saved)?;
                tx.audit(
                    &actor,
                    "token.create",
                    &format!("token/{}", saved.name),
                    &format!("role {}", saved.role),
                )
            })
            .await?;
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.name.clone(), record.clone());
        Ok((record, token))
    }

    /// Revokes a token at once.
    pub async fn revoke(&self, store: &Store, name: &str, actor: &str) -> Result<(), StoreError> {
        let token = name.to_string();
        let actor = actor.to_string();
        let _changing = self.changes.lock().await;
        let other_admins = self
            .list()
            .iter()
            .filter(|(record, _)| record.role == Role::Admin.as_str() && record.name != name)
            .count();
        let removed = store
            .write(move |tx| {
                let Some(record) = tx.token(&token)? else {
                    return Ok(false);
                };
                if record.role == Role::Admin.as_str() && other_admins == 0 {
                    return Err(StoreError::Conflict(format!(
                        "`{token}` is the last admin token; create another admin token \
                         before revoking it"
                    )));
                }
                let removed = tx.delete_token(&token)?;
                if removed {
                    tx.audit(&actor, "token.revoke", &format!("token/{token}"), "")?;
                }
                Ok(removed)
            })
            .await?;
        if !removed {
            return Err(StoreError::NotFound(format!("token `{name}`")));
        }
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        Ok(())
    }

    /// The tokens, by name, with when each was last used by this process.
    pub fn list(&self) -> Vec<(TokenRecord, Option<Time>)> {
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let last_used = self.last_used.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = by_name
            .values()
            .map(|record| (record.clone(), last_used.get(&record.name).copied()))
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }
}

/// Splits `rpt_<name>_<secret>`; the secret is the part after the last
/// underscore, so names may contain underscores.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (name, secret) = rest.rsplit_once('_')?;
    (!name.is_empty() && !secret.is_empty()).then_some((name, secret))
}

/// Token names: 1 to 64 of `a-z A-Z 0-9 - _ .`.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "field `name`: `{name}` is not a token name; expected 1 to 64 letters, digits, \
             `-`, `_` or `.`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_at_the_last_underscore() {
        assert_eq!(split_token("rpt_ci_bot_abc"), Some(("ci_bot", "abc")));
        assert_eq!(split_token("rpt_admin_"), None);
        assert_eq!(split_token("xyz_admin_abc"), None);
        assert_eq!(split_token("rpt_abc"), None);
    }

    #[test]
    fn roles_nest() {
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        assert_eq!(Role::parse("operator"), Ok(Role::Operator));
        assert!(
            Role::parse("root")
                .unwrap_err()
                .contains("viewer, operator or admin")
        );
    }
}
