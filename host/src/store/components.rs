//! Registry records: installed component versions, the active version of
//! each component, and the grants an admin approved. The bytes of a
//! component live on disk beside the store (see `crate::registry`); the
//! store holds what was installed, by whom, from where, and what is in
//! force.

use serde::{Deserialize, Serialize};

use redb::ReadableTable;

use super::StoreError;
use super::tables::{ACTIVE_COMPONENTS, COMPONENTS, GRANTS};
use super::tx::{Reader, Tx, encode, load, load_all};
use crate::model::Time;

/// Hosts a component may call and secrets it may open, as grant patterns
/// (`https://*.aliyuncs.com`, `target:*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSpec {
    pub hosts: Vec<String>,
    pub secrets: Vec<String>,
}

impl GrantSpec {
    /// What `requested` asks for that this grant does not give, as the
    /// patterns themselves; empty when everything is covered.
    pub fn missing(&self, requested: &GrantSpec) -> Vec<String> {
        let hosts = requested
            .hosts
            .iter()
            .filter(|host| !self.hosts.contains(host))
            .map(|host| format!("host `{host}`"));
        let secrets = requested
            .secrets
            .iter()
            .filter(|secret| !self.secrets.contains(secret))
            .map(|secret| format!("secret `{secret}`"));
        hosts.chain(secrets).collect()
    }
}

/// One installed version of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRecord {
    /// Lower-case hex SHA-256 of the component's bytes: its identity.
    pub digest: String,
    /// Name and version, from its `describe`.
    pub name: String,
    pub version: String,
    /// Size of the bytes.
    pub size: u64,
    /// The action identifiers it implements.
    pub actions: Vec<String>,
    /// What its `describe` asks to be granted.
    pub requested: GrantSpec,
    /// Where it came from: `bundled`, `upload`, `file:<path>`.
    pub source: String,
    pub installed_by: String,
    pub installed_at: Time,
    /// The trusted key (minisign key id, hex) whose signature it carried.
    #[serde(default)]
    pub signed_by: Option<String>,
    /// Installed while it asked for more than its component's grant: it
    /// becomes active when an admin grants what it asks for.
    #[serde(default)]
    pub awaiting_grant: bool,
}

/// The grant in force for a component, by name, with who approved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub component: String,
    #[serde(flatten)]
    pub grant: GrantSpec,
    /// Who approved it: a token name, or `config` for a grant declared in
    /// the daemon's configuration.
    pub granted_by: String,
    pub granted_at: Time,
}

impl Tx<'_> {
    /// Records an installed version (or replaces its record).
    pub fn put_component(&mut self, record: &ComponentRecord) -> Result<(), StoreError> {
        self.table(COMPONENTS)?
            .insert(record.digest.as_str(), encode(record).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// The installed version with this digest, if any.
    pub fn component(&self, digest: &str) -> Result<Option<ComponentRecord>, StoreError> {
        load(&self.table(COMPONENTS)?, digest, "component")
    }

    /// Forgets an installed version; false when there was none.
    pub fn delete_component(&mut self, digest: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(COMPONENTS)?
            .remove(digest)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// Every installed version.
    pub fn components(&self) -> Result<Vec<ComponentRecord>, StoreError> {
        load_all(&self.table(COMPONENTS)?, "component")
    }

    /// The digest of the active version of `name`.
    pub fn active_component(&self, name: &str) -> Result<Option<String>, StoreError> {
        let table = self.table(ACTIVE_COMPONENTS)?;
        let value = table.get(name).map_err(StoreError::storage)?;
        Ok(value.map(|digest| digest.value().to_string()))
    }

    /// Makes `digest` the active version of `name`, or clears it.
    pub fn set_active_component(
        &mut self,
        name: &str,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut table = self.table(ACTIVE_COMPONENTS)?;
        match digest {
            Some(digest) => table.insert(name, digest).map(|_| ()),
            None => table.remove(name).map(|_| ()),
        }
        .map_err(StoreError::storage)
    }

    /// The grant in force for `name`.
    pub fn grant(&self, name: &str) -> Result<Option<GrantRecord>, StoreError> {
        load(&self.table(GRANTS)?, name, "grant")
    }

    /// Replaces the grant of a component.
    pub fn put_grant(&mut self, grant: &GrantRecord) -> Result<(), StoreError> {
        self.table(GRANTS)?
            .insert(grant.component.as_str(), encode(grant).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// Removes the grant of a component; false when there was none.
    pub fn delete_grant(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(GRANTS)?
            .remove(name)
            .map_err(StoreError::storage)?
            .is_some())
    }
}

impl Reader {
    /// Every installed version.
    pub fn components(&self) -> Result<Vec<ComponentRecord>, StoreError> {
        load_all(&self.table(COMPONENTS)?, "component")
    }

    /// The installed version with this digest, if any.
    pub fn component(&self, digest: &str) -> Result<Option<ComponentRecord>, StoreError> {
        load(&self.table(COMPONENTS)?, digest, "component")
    }

    /// Active versions as (name, digest).
    pub fn active_components(&self) -> Result<Vec<(String, String)>, StoreError> {
        let table = self.table(ACTIVE_COMPONENTS)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)? {
            let (name, digest) = row.map_err(StoreError::storage)?;
            out.push((name.value().to_string(), digest.value().to_string()));
        }
        Ok(out)
    }

    /// Every grant in force.
    pub fn grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        load_all(&self.table(GRANTS)?, "grant")
    }
}
