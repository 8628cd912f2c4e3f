//! The vocabulary of `DESIGN.md` as data: entities, scripts, response
//! rules, handling policies and tasks with their state machines, the
//! allowlist and guardrails, and the one parser for each value an operator
//! writes (durations, times, CEL expressions).
//!
//! This module holds no state and performs no I/O beyond reading the
//! host's own addresses; the store persists these types and the engine
//! moves them through their state machines.

mod allowlist;
mod condition;
mod duration;
mod entity;
mod policy;
mod rule;
mod script;
mod task;
mod time;

pub use allowlist::{AllowEntry, Guardrails, Scope, local_addresses, parse_protected};
pub use condition::{Bindings, Expr, VARIABLES};
pub use duration::Span;
pub use entity::{Entity, EntityKind};
pub use policy::{
    KEPT_ALERT_IDS, Policy, PolicyStatus, ScriptRef, Source, SourceKind, StepState, StepStatus,
    derive_status,
};
pub use rule::{RateLimit, RuleSpec, TriggerKind};
pub use script::{
    ActionFacts, EntityExtractor, Known, ScriptSpec, ScriptVersion, Step, check_name,
};
pub use task::{Attempt, KEPT_ATTEMPTS, Revert, RevertStatus, Task, TaskStatus};
pub use time::Time;
