//! usage-calc: Lago's rating math in Rust, compiled to WebAssembly.
#![forbid(unsafe_code)]

/// The crate version, as the npm package reports it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(target_arch = "wasm32")]
mod wasm;

pub mod aggregations;
pub mod api;
pub mod charge_models;
pub mod domain;
pub mod engine;
pub mod error;
pub mod fees;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod input;
pub(crate) mod json;
pub mod limits;
pub mod money;
pub mod number;
pub mod pay_in_advance;
pub mod period;
pub mod rating;
pub(crate) mod sort;
