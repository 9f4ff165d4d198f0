//! Every bound on user input, in one place, each with why.

/// Lago's presentation breakdowns allow two keys.
pub const PRESENTATION_GROUP_KEYS_MAX: usize = 2;

/// Tiers per charge: far above any real price list, low enough that a tier walk stays trivial.
pub const RANGES_MAX: usize = 1_000;

/// Groups in one pricing call: bounds the work of a single request.
pub const GROUPS_MAX: usize = 100_000;

/// Per-event values in one pricing call (percentage min/max, prorated graduated).
pub const PER_EVENT_VALUES_MAX: usize = 10_000_000;

/// Filter buckets per charge (a Lago user reported 1,550; leave room).
pub const FILTERS_MAX: usize = 10_000;

/// Size of a JSON request handed to the engine, in bytes.
pub const REQUEST_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Billing periods one past-usage walk lists: 200 years of weekly periods.
pub const PERIODS_MAX: usize = 10_440;
