//! Handling tasks: one action on one target for one policy, and the state
//! machine every change of a task goes through.
//!
//! ```text
//!              claim                 outcome
//!   Waiting ----------> Executing ----------> Succeeded / PartiallySucceeded
//!      ^                  |   |
//!      |  retry (backoff) |   +-------------> Failed --(manual retry)--> Waiting
//!      +------------------+
//!   (created) ---------------------------------> Ignored   (allowlist, guardrail)
//! ```
//!
//! A waiting task is checked against the allowlist and guardrails again
//! when it is claimed: before any attempt it ends `Ignored`; after one
//! (a retry, or a re-run after a crash) it ends `Failed` instead, since an
//! earlier attempt may have taken effect (`Waiting -> Failed`).
//!
//! Revert is a separate track on a task that `Succeeded` or
//! `PartiallySucceeded` with a revert token: `Scheduled` (a timer at
//! `expires_at`) -> `Reverting` -> `Unblocked` or `RevertFailed`. An early
//! unblock skips the wait; the timer is cancelled with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Entity, Span, Time};
use crate::runtime::TaskFailure;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Queued, possibly until `next_attempt_at` after a failure.
    Waiting,
    /// An attempt is running; committed before the component is called.
    Executing,
    /// The action took effect.
    Succeeded,
    /// The action took effect for some of its items only.
    PartiallySucceeded,
    /// The action did not take effect, and will not be retried on its own.
    Failed,
    /// The action was deliberately not run (allowlist, guardrail).
    Ignored,
}

impl TaskStatus {
    /// Every status, for indexes and metrics.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Waiting,
        TaskStatus::Executing,
        TaskStatus::Succeeded,
        TaskStatus::PartiallySucceeded,
        TaskStatus::Failed,
        TaskStatus::Ignored,
    ];

    /// The name used in indexes and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Waiting => "Waiting",
            TaskStatus::Executing => "Executing",
            TaskStatus::Succeeded => "Succeeded",
            TaskStatus::PartiallySucceeded => "PartiallySucceeded",
            TaskStatus::Failed => "Failed",
            TaskStatus::Ignored => "Ignored",
        }
    }

    /// Whether nothing more happens to the task on its own.
    pub fn is_terminal(self) -> bool {
        !matches!(self, TaskStatus::Waiting | TaskStatus::Executing)
    }

    /// Whether the action took effect (fully or partly).
    pub fn took_effect(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::PartiallySucceeded)
    }

    /// Whether the state machine allows `self -> to`.
    pub fn allows(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Waiting, Executing)
                | (Waiting, Ignored)
                | (Waiting, Failed)
                | (Executing, Succeeded | PartiallySucceeded | Failed | Waiting)
                | (Failed, Waiting)
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of the component for a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1, 2, 3, ...; the component sees the same number.
    pub number: u32,
    pub started_at: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// The component's detail on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<TaskFailure>,
    /// The component version that ran this attempt, and the SHA-256 of
    /// its bytes; none when no component could be found to run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_digest: Option<String>,
}

/// The revert track of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RevertStatus {
    /// A timer will revert the task at `expires_at`.
    Scheduled,
    /// A revert is running or queued (after a retryable failure).
    Reverting,
    /// The action was undone.
    Unblocked,
    /// Revert failed and will not be retried on its own; an operator must
    /// unblock again or act by hand.
    RevertFailed,
}

/// Who asked for a revert, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revert {
    pub status: RevertStatus,
    /// `expiry` for timers, else the operator or token name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Time>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<TaskFailure>,
}

/// The most attempts a task record keeps; older ones are summarized by
/// the attempt number of the first one kept.
pub const KEPT_ATTEMPTS: usize = 16;

/// A handling task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub policy_id: u64,
    /// The index of the script step that created the task.
    pub step: usize,
    /// The action identifier, such as `AliyunWafBlockIP`.
    pub action: String,
    /// The component's name and version that ran (or will run) it.
    pub component: String,
    pub component_version: String,
    /// Copied from the action's description when the task was created.
    pub reversible: bool,
    pub retryable: bool,
    pub entity: Entity,
    /// The target's id and provider.
    pub target: String,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Span>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// The same on every attempt, so a retry never acts twice.
    pub idempotency_key: String,
    pub status: TaskStatus,
    /// Why the task was ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// Attempts made so far, including any no longer kept in `attempts`.
    #[serde(default)]
    pub attempt_count: u32,
    /// The retry budget in use: when its first attempt started and how
    /// many attempts it has had. A manual retry starts a new budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_start: Option<Time>,
    #[serde(default)]
    pub budget_attempts: u32,
    /// When the next attempt may start, while `Waiting` after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,
    /// The last failure, while `Failed` or waiting for a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<TaskFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Opaque to the host; handed back to the component's `revert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_token: Option<String>,
    /// When a timed block is reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert: Option<Revert>,
    pub created_at: Time,
    pub updated_at: Time,
}

impl Task {
    /// The digest of the component version whose attempt succeeded last:
    /// the one that wrote the revert token.
    pub fn executed_digest(&self) -> Option<&str> {
        self.attempts
            .iter()
            .rev()
            .find(|attempt| attempt.failure.is_none() && attempt.ended_at.is_some())
            .and_then(|attempt| attempt.component_digest.as_deref())
    }

    /// Whether the engine may run the action again without an operator:
    /// the component declared it both retryable (safe to repeat under the
    /// same idempotency key) and reversible. Irreversible actions (a kill,
    /// a deletion) are never repeated on the engine's own initiative.
    pub fn may_repeat(&self) -> bool {
        self.retryable && self.reversible
    }

    /// Whether an unblock can be asked for now.
    pub fn check_revertible(&self) -> Result<(), String> {
        if !self.reversible {
            return Err(format!("action `{}` cannot be reverted", self.action));
        }
        if !self.status.took_effect() {
            return Err(format!(
                "task {} is `{}`; only a task that succeeded can be unblocked",
                self.id, self.status
            ));
        }
        if self.revert_token.is_none() {
            return Err(format!(
                "task {} changed nothing that needs undoing (the component \
                 returned no revert token)",
                self.id
            ));
        }
        match self.revert.as_ref().map(|revert| revert.status) {
            Some(RevertStatus::Unblocked) => Err(format!("task {} is already unblocked", self.id)),
            Some(RevertStatus::Reverting) => {
                Err(format!("task {} is being unblocked already", self.id))
            }
            _ => Ok(()),
        }
    }

    /// Whether an operator may retry the task now.
    pub fn check_retryable(&self) -> Result<(), String> {
        if self.status != TaskStatus::Failed {
            return Err(format!(
                "task {} is `{}`; only a `Failed` task can be retried",
                self.id, self.status
            ));
        }
        if !self.may_repeat() {
            return Err(format!(
                "action `{}` is irreversible (the component declares it \
                 reversible: {}, retryable: {}); running it again could act \
                 twice, so it is not retried; create a new policy if that is \
                 what you want",
                self.action, self.reversible, self.retryable
            ));
        }
        Ok(())
    }

    /// Appends an attempt, keeping at most [`KEPT_ATTEMPTS`].
    pub fn push_attempt(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        if self.attempts.len() > KEPT_ATTEMPTS {
            self.attempts.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::{self, *};

    #[test]
    fn the_state_machine_allows_exactly_the_documented_moves() {
        let allowed = [
            (Waiting, Executing),
            (Waiting, Ignored),
            (Waiting, Failed),
            (Executing, Succeeded),
            (Executing, PartiallySucceeded),
            (Executing, Failed),
            (Executing, Waiting),
            (Failed, Waiting),
        ];
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                assert_eq!(
                    from.allows(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn terminal_statuses_are_those_nothing_follows_on_its_own() {
        for status in TaskStatus::ALL {
            assert_eq!(status.is_terminal(), !matches!(status, Waiting | Executing));
        }
    }
}
