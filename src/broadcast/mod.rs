//! Model → plan → ledger → channels: every due post sent exactly once where the channel allows it.

pub mod channels;
pub mod text;
