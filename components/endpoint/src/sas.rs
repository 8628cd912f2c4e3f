//! The Alibaba Cloud Security Center backend (`Sas` 2018-12-03).
//!
//! Not built yet: every action answers `invalid-input` naming the gap.

use riposte_sdk::failure;
use riposte_sdk::types::{ActionRequest, Failure, Outcome, PlanOutcome, SettingSpec};

use crate::Action;

/// Security Center API endpoints.
pub(crate) const HOSTS: &[&str] = &["https://tds.aliyuncs.com"];

pub(crate) fn settings(_action: Action) -> Vec<SettingSpec> {
    Vec::new()
}

fn missing(action: Action) -> Failure {
    failure::invalid_input(format!(
        "`{}` has no Security Center backend yet",
        action.id()
    ))
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
