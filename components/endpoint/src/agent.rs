//! The riposte endpoint agent backend.
//!
//! Not built yet: every action answers `invalid-input` naming the gap.

use riposte_sdk::failure;
use riposte_sdk::types::{ActionRequest, Failure, Outcome, PlanOutcome, SettingSpec};

use crate::Action;

pub(crate) fn settings(_action: Action) -> Vec<SettingSpec> {
    Vec::new()
}

fn missing(action: Action) -> Failure {
    failure::invalid_input(format!("`{}` has no agent backend yet", action.id()))
}

pub(crate) fn execute(action: Action, _request: &ActionRequest) -> Result<Outcome, Failure> {
    Err(missing(action))
}

pub(crate) fn revert(
    action: Action,
    _request: &ActionRequest,
    _token: &str,
) -> Result<Outcome, Failure> {
    Err(missing(action))
}

pub(crate) fn plan(action: Action, _request: &ActionRequest) -> Result<PlanOutcome, Failure> {
    Err(missing(action))
}
