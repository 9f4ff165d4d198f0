//! Plain data shared by every layer: no pricing logic here.

pub mod event;
pub mod event_log;
