//! # grouped pricing
//! ## What it charges
//! The same model and properties applied independently to each combination of
//! `pricing_group_keys` values (legacy `grouped_by`): tiers, flat fees, free units and package
//! rounding start again in every group, and each group becomes its own fee.
//! ## Formula
//! `amount = Σ group amounts`, `units = Σ group units`.
//! ## Lago reference
//! `app/services/charge_models/grouped_service.rb`

use super::{Aggregation, ChargeModel, Context, Priced};
use crate::error::{Error, Result};
use crate::limits::GROUPS_MAX;
use serde_json::{Map, Value};

/// One group: its key values and its own aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Key → value (null for events without the key).
    pub grouped_by: Map<String, Value>,
    /// The group's aggregation.
    pub aggregation: Aggregation,
}

/// Prices every group on its own, in the order given.
pub fn apply(model: &ChargeModel, groups: &[Group], ctx: &Context) -> Result<Vec<Priced>> {
    if groups.len() > GROUPS_MAX {
        return Err(Error::invalid("groups", "too_many_groups"));
    }
    groups
        .iter()
        .map(|group| model.apply(&group.aggregation, ctx))
        .collect()
}
