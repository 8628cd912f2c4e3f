//! The components the engine can run, with their grants: every loaded
//! version by digest, and the active version of each component indexed by
//! the action identifiers it implements.
//!
//! New tasks run on the active version; a revert runs on the version that
//! executed, while it is installed, so a revert token is always read by
//! the code that wrote it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{ActionFacts, EntityKind};
use crate::runtime::{Grant, LoadedComponent, kind_name, wit};

/// A loaded component version and what its component was granted.
#[derive(Debug, Clone)]
pub struct Installed {
    pub component: LoadedComponent,
    pub grant: Grant,
}

impl Installed {
    /// The component's name.
    pub fn name(&self) -> &str {
        &self.component.info().name
    }
}

/// Loaded versions by digest, and the active ones by action identifier.
/// Two active components may not implement the same action.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    by_action: HashMap<String, Arc<Installed>>,
    versions: HashMap<String, Arc<Installed>>,
    /// Names of components an admin disabled: their actions start no new
    /// task, but reverts of what they did still run.
    disabled: HashSet<String>,
}

impl Catalog {
    /// Adds a version and makes it active; refused when one of its actions
    /// is implemented by another active component.
    pub fn install(&mut self, component: LoadedComponent, grant: Grant) -> Result<(), String> {
        self.check_conflicts(component.info())?;
        let digest = component.digest().to_string();
        self.add_version(component, grant);
        self.activate(&digest)
    }

    /// Adds a version without making it active (or replaces the copy
    /// loaded with the same digest).
    pub fn add_version(&mut self, component: LoadedComponent, grant: Grant) {
        let digest = component.digest().to_string();
        self.versions
            .insert(digest, Arc::new(Installed { component, grant }));
    }

    /// Refuses a description implementing an action that another active
    /// component (by name) implements.
    pub fn check_conflicts(&self, info: &wit::ComponentInfo) -> Result<(), String> {
        for action in &info.actions {
            if let Some(other) = self.by_action.get(&action.id)
                && other.name() != info.name
            {
                return Err(format!(
                    "component `{}` implements `{}`, which component `{}` already \
                     implements; an action identifier must be unique",
                    info.name,
                    action.id,
                    other.name()
                ));
            }
        }
        Ok(())
    }

    /// Makes the loaded version `digest` the active one of its component,
    /// replacing the previous active version in one step.
    pub fn activate(&mut self, digest: &str) -> Result<(), String> {
        let installed = self
            .versions
            .get(digest)
            .cloned()
            .ok_or_else(|| format!("no loaded component version has digest {digest}"))?;
        self.check_conflicts(installed.component.info())?;
        let name = installed.name().to_string();
        self.deactivate(&name);
        for action in &installed.component.info().actions {
            self.by_action.insert(action.id.clone(), installed.clone());
        }
        Ok(())
    }

    /// Leaves `name` without an active version: its actions start nothing.
    pub fn deactivate(&mut self, name: &str) {
        self.by_action
            .retain(|_, installed| installed.name() != name);
    }

    /// Forgets a loaded version; the active one is deactivated first.
    pub fn remove_version(&mut self, digest: &str) {
        if let Some(installed) = self.versions.remove(digest) {
            let name = installed.name().to_string();
            let active = self.active(&name);
            if active.is_some_and(|active| active.component.digest() == digest) {
                self.deactivate(&name);
            }
        }
    }

    /// Replaces the grant of every loaded version of `name`.
    pub fn set_grant(&mut self, name: &str, grant: &Grant) {
        for installed in self.versions.values_mut() {
            if installed.name() == name {
                *installed = Arc::new(Installed {
                    component: installed.component.clone(),
                    grant: grant.clone(),
                });
            }
        }
        for installed in self.by_action.values_mut() {
            if installed.name() == name
                && let Some(updated) = self.versions.get(installed.component.digest())
            {
                *installed = updated.clone();
            }
        }
    }

    /// The active component implementing `action`, with the action's
    /// description.
    pub fn action(&self, action: &str) -> Option<(Arc<Installed>, wit::ActionInfo)> {
        let installed = self.by_action.get(action)?;
        let info = installed.component.action(action)?.clone();
        Some((installed.clone(), info))
    }

    /// The loaded version with this digest.
    pub fn version(&self, digest: &str) -> Option<Arc<Installed>> {
        self.versions.get(digest).cloned()
    }

    /// The active version of the component called `name`.
    pub fn active(&self, name: &str) -> Option<Arc<Installed>> {
        self.by_action
            .values()
            .find(|installed| installed.name() == name)
            .cloned()
    }

    /// Whether some version of `name` is loaded.
    pub fn knows(&self, name: &str) -> bool {
        self.versions.values().any(|i| i.name() == name)
    }

    /// Whether the component called `name` may start new tasks.
    pub fn is_enabled(&self, name: &str) -> bool {
        !self.disabled.contains(name)
    }

    /// Enables or disables a component by name; false when no version of
    /// it is loaded.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        if !self.knows(name) {
            return false;
        }
        if enabled {
            self.disabled.remove(name);
        } else {
            self.disabled.insert(name.to_string());
        }
        true
    }

    /// Every active component by name.
    pub fn components(&self) -> BTreeMap<String, Arc<Installed>> {
        self.by_action
            .values()
            .map(|i| (i.name().to_string(), i.clone()))
            .collect()
    }

    /// What validation needs to know about every action of an enabled
    /// component.
    pub fn facts(&self) -> HashMap<String, ActionFacts> {
        self.by_action
            .iter()
            .filter(|(_, installed)| self.is_enabled(installed.name()))
            .filter_map(|(id, installed)| {
                let info = installed.component.action(id)?;
                Some((
                    id.clone(),
                    ActionFacts {
                        component: installed.name().to_string(),
                        entity_kinds: info
                            .entity_kinds
                            .iter()
                            .filter_map(|kind| EntityKind::parse(kind_name(*kind)).ok())
                            .collect(),
                        reversible: info.reversible,
                        retryable: info.retryable,
                    },
                ))
            })
            .collect()
    }
}
