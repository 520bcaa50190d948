//! The one place the run dispatches on a node's kind. `component.rs` decides for every kind
//! (upstream values, fingerprint, record, pending, up to date); what happens then is the
//! kind's executor's: Terraform (`steps.rs`, `apply.rs`, `destroy.rs`, `tooling.rs`) or a
//! step (`step.rs`). A new kind of node adds its executor file and one arm to each function
//! here (and its fingerprint parts in `fingerprint.rs`).

use evaluator::Kind;

use super::{
    ComponentResult, Done,
    component::{Ctx, Prepared},
    failure::Failure,
};
use crate::record::RunRecord;

/// The program the node's kind runs, if infra chooses it (Terraform's tool).
pub(crate) fn find_program(ctx: &mut Ctx<'_>) -> Result<(), Failure> {
    match &ctx.component.kind {
        Kind::Terraform(terraform) => super::tooling::find_program(ctx, terraform),
        Kind::Step(_) => Ok(()),
    }
}

/// The version of that program (part of the fingerprint); empty when there is none.
pub(crate) async fn program_version(ctx: &mut Ctx<'_>) -> String {
    match &ctx.component.kind {
        Kind::Terraform(_) => super::tooling::tool_version(ctx).await,
        Kind::Step(_) => String::new(),
    }
}

/// `infra destroy` of the node.
pub(crate) async fn destroy(ctx: &mut Ctx<'_>) -> (ComponentResult, Done) {
    match &ctx.component.kind {
        Kind::Terraform(_) => super::destroy::destroy(ctx).await,
        Kind::Step(step) => super::step::destroy(ctx, step).await,
    }
}

/// Planning a node that runs again after `first`, which `apply` would run: a step would run;
/// a component is pending (it plans once `first` ran).
pub(crate) fn would_run_after(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    first: &str,
) -> (ComponentResult, Done) {
    match &ctx.component.kind {
        Kind::Step(step) => super::step::plan(ctx, step, prepared),
        Kind::Terraform(_) => {
            super::component::pending(ctx, format!("re-plans after `{first}` runs"))
        }
    }
}

/// Plan, apply or check for drift a node that is not up to date (or, for drift, any).
pub(crate) async fn run(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    record: Option<RunRecord>,
    up_to_date: bool,
) -> (ComponentResult, Done) {
    match &ctx.component.kind {
        Kind::Terraform(_) => super::steps::run(ctx, prepared, record, up_to_date).await,
        Kind::Step(step) => super::step::run_mode(ctx, step, prepared, record).await,
    }
}
