//! The components the engine can run, with their grants, indexed by the
//! action identifiers they implement.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{ActionFacts, EntityKind};
use crate::runtime::{Grant, LoadedComponent, kind_name, wit};

/// An installed component and what it was granted.
#[derive(Debug, Clone)]
pub struct Installed {
    pub component: LoadedComponent,
    pub grant: Grant,
}

/// Installed components by action identifier. Two components may not
/// implement the same action.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    by_action: HashMap<String, Arc<Installed>>,
    /// Names of components an admin disabled: their actions start no new
    /// task, but reverts of what they did still run.
    disabled: HashSet<String>,
}

impl Catalog {
    /// Adds a component; refused when one of its actions is already
    /// implemented by another component.
    pub fn install(&mut self, component: LoadedComponent, grant: Grant) -> Result<(), String> {
        let name = component.info().name.clone();
        for action in &component.info().actions {
            if let Some(other) = self.by_action.get(&action.id)
                && other.component.info().name != name
            {
                return Err(format!(
                    "component `{name}` implements `{}`, which component `{}` already \
                     implements; an action identifier must be unique",
                    action.id,
                    other.component.info().name
                ));
            }
        }
        let installed = Arc::new(Installed { component, grant });
        for action in &installed.component.info().actions {
            self.by_action.insert(action.id.clone(), installed.clone());
        }
        Ok(())
    }

    /// The component implementing `action`, with the action's description.
    pub fn action(&self, action: &str) -> Option<(Arc<Installed>, wit::ActionInfo)> {
        let installed = self.by_action.get(action)?;
        let info = installed.component.action(action)?.clone();
        Some((installed.clone(), info))
    }

    /// Whether the component called `name` may start new tasks.
    pub fn is_enabled(&self, name: &str) -> bool {
        !self.disabled.contains(name)
    }

    /// Enables or disables a component by name; false when none is
    /// installed under that name.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        if !self
            .by_action
            .values()
            .any(|i| i.component.info().name == name)
        {
            return false;
        }
        if enabled {
            self.disabled.remove(name);
        } else {
            self.disabled.insert(name.to_string());
        }
        true
    }

    /// Every installed component by name.
    pub fn components(&self) -> BTreeMap<String, Arc<Installed>> {
        self.by_action
            .values()
            .map(|i| (i.component.info().name.clone(), i.clone()))
            .collect()
    }

    /// What validation needs to know about every action of an enabled
    /// component.
    pub fn facts(&self) -> HashMap<String, ActionFacts> {
        self.by_action
            .iter()
            .filter(|(_, installed)| self.is_enabled(&installed.component.info().name))
            .filter_map(|(id, installed)| {
                let info = installed.component.action(id)?;
                Some((
                    id.clone(),
                    ActionFacts {
                        component: installed.component.info().name.clone(),
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
