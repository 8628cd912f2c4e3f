//! Handling policies: one decision (what entity, which script version,
//! where, from what source) and the status derived from its tasks.
//!
//! # Status derivation
//!
//! A policy's status is never set by hand; [`derive_status`] computes it
//! from its tasks' statuses and whether script steps remain to evaluate:
//!
//! 1. While steps remain to be evaluated or a task is `Waiting` or
//!    `Executing`: `Waiting` if nothing has started yet, else `Executing`
//!    (a task is `Executing` or terminal).
//! 2. Once every task is terminal and no step remains, over the tasks that
//!    are not `Ignored`:
//!
//! | those tasks                                           | policy status        |
//! | ----------------------------------------------------- | -------------------- |
//! | none (all `Ignored`, or no task at all)                | `Ignored`            |
//! | all `Succeeded`                                        | `Succeeded`          |
//! | all `Failed`                                           | `Failed`             |
//! | any other mix, or one `PartiallySucceeded`             | `PartiallySucceeded` |
//!
//! `Ignored` tasks are neutral: a block on five firewalls with one of them
//! allowlisted succeeded where it was meant to act. Reverting a task does
//! not change its policy's status; the revert is on the task.

use serde::{Deserialize, Serialize};

use super::{Entity, TaskStatus, Time};

/// Where a policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// An operator handled an alert or incident by hand.
    ManualHandling,
    /// A response rule fired on an incident.
    IncidentRule,
    /// A response rule fired on an alert.
    AlertRule,
    /// An operator ran a script on an entity.
    ManualScriptRun,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::ManualHandling => "manual-handling",
            SourceKind::IncidentRule => "incident-rule",
            SourceKind::AlertRule => "alert-rule",
            SourceKind::ManualScriptRun => "manual-script-run",
        }
    }
}

/// The source of a policy: its kind and the ids it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// The rule that fired, for rule sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The alert or incident id, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<u64>,
    /// Who asked, for manual sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A policy's status; see the module documentation for the derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyStatus {
    Waiting,
    Executing,
    Succeeded,
    PartiallySucceeded,
    Failed,
    Ignored,
}

impl PolicyStatus {
    pub const ALL: [PolicyStatus; 6] = [
        PolicyStatus::Waiting,
        PolicyStatus::Executing,
        PolicyStatus::Succeeded,
        PolicyStatus::PartiallySucceeded,
        PolicyStatus::Failed,
        PolicyStatus::Ignored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Waiting => "Waiting",
            PolicyStatus::Executing => "Executing",
            PolicyStatus::Succeeded => "Succeeded",
            PolicyStatus::PartiallySucceeded => "PartiallySucceeded",
            PolicyStatus::Failed => "Failed",
            PolicyStatus::Ignored => "Ignored",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, PolicyStatus::Waiting | PolicyStatus::Executing)
    }
}

impl std::fmt::Display for PolicyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Derives a policy's status from its tasks' statuses; `steps_remain` is
/// whether script steps are still to be evaluated.
pub fn derive_status(tasks: &[TaskStatus], steps_remain: bool) -> PolicyStatus {
    let open = steps_remain || tasks.iter().any(|status| !status.is_terminal());
    if open {
        let started = tasks
            .iter()
            .any(|status| *status == TaskStatus::Executing || status.is_terminal());
        return if started {
            PolicyStatus::Executing
        } else {
            PolicyStatus::Waiting
        };
    }
    let acted: Vec<_> = tasks
        .iter()
        .filter(|status| **status != TaskStatus::Ignored)
        .collect();
    if acted.is_empty() {
        PolicyStatus::Ignored
    } else if acted.iter().all(|status| **status == TaskStatus::Succeeded) {
        PolicyStatus::Succeeded
    } else if acted.iter().all(|status| **status == TaskStatus::Failed) {
        PolicyStatus::Failed
    } else {
        PolicyStatus::PartiallySucceeded
    }
}

/// How a script step went for a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatus {
    /// Not evaluated yet.
    Pending,
    /// Its tasks were created and are not all terminal.
    Running,
    /// Its tasks are all terminal.
    Done,
    /// Its `when` condition was false.
    Skipped,
}

/// One step of the script, as this policy saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub id: String,
    pub status: StepStatus,
    /// Why it was skipped, or why its `when` failed to evaluate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The script version a policy runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScriptRef {
    pub name: String,
    pub version: u32,
}

/// The most alert ids a policy keeps of those that joined it through
/// dedup; `joined` counts them all.
pub const KEPT_ALERT_IDS: usize = 64;

/// A handling policy as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: u64,
    pub entity: Entity,
    pub script: ScriptRef,
    /// The targets of its tasks, in order of first use.
    pub targets: Vec<String>,
    /// The actions of its tasks, in order of first use.
    pub actions: Vec<String>,
    pub source: Source,
    pub status: PolicyStatus,
    pub steps: Vec<StepState>,
    /// Alerts that joined this policy inside the dedup window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joined_alerts: Vec<u64>,
    #[serde(default)]
    pub joined: u64,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Policy {
    /// Whether any step is still `Pending`.
    pub fn steps_remain(&self) -> bool {
        self.steps
            .iter()
            .any(|step| step.status == StepStatus::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;
    use super::*;

    #[test]
    fn every_case_of_the_derivation_table() {
        let cases: &[(&[TaskStatus], bool, PolicyStatus)] = &[
            (&[], false, PolicyStatus::Ignored),
            (&[], true, PolicyStatus::Waiting),
            (&[Waiting], false, PolicyStatus::Waiting),
            (&[Waiting, Waiting], false, PolicyStatus::Waiting),
            (&[Executing, Waiting], false, PolicyStatus::Executing),
            (&[Succeeded, Waiting], false, PolicyStatus::Executing),
            (&[Ignored, Waiting], false, PolicyStatus::Executing),
            (&[Succeeded], true, PolicyStatus::Executing),
            (&[Succeeded], false, PolicyStatus::Succeeded),
            (&[Succeeded, Succeeded], false, PolicyStatus::Succeeded),
            (&[Succeeded, Ignored], false, PolicyStatus::Succeeded),
            (&[Ignored], false, PolicyStatus::Ignored),
            (&[Ignored, Ignored], false, PolicyStatus::Ignored),
            (&[Failed], false, PolicyStatus::Failed),
            (&[Failed, Ignored], false, PolicyStatus::Failed),
            (
                &[Succeeded, Failed],
                false,
                PolicyStatus::PartiallySucceeded,
            ),
            (
                &[PartiallySucceeded],
                false,
                PolicyStatus::PartiallySucceeded,
            ),
            (
                &[PartiallySucceeded, Succeeded],
                false,
                PolicyStatus::PartiallySucceeded,
            ),
            (
                &[PartiallySucceeded, Failed],
                false,
                PolicyStatus::PartiallySucceeded,
            ),
            (
                &[Succeeded, Failed, Ignored],
                false,
                PolicyStatus::PartiallySucceeded,
            ),
        ];
        for (tasks, steps_remain, expected) in cases {
            assert_eq!(
                derive_status(tasks, *steps_remain),
                *expected,
                "{tasks:?} steps_remain={steps_remain}"
            );
        }
    }
}
