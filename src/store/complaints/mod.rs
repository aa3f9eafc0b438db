//! Complaints: intake, the one way every later status change is made, and
//! the queries over cases.
//!
//! * `intake`: a new complaint routed and written with its first event and outbox rows;
//! * `transition`: the [`Transition`] request and the calls that run it;
//! * `plan`: what each action does to the case, worked out before it is written;
//! * `versioned`: the case rows written under their version checks;
//! * `clocks`: the case's deadlines as a change leaves them (intake and transitions);
//! * `queries`: finding cases and reading what is stored on them.

mod clocks;
mod intake;
mod plan;
mod queries;
mod transition;
mod versioned;

pub use intake::{Keyed, NewComplaint, intake, prepare_intake};
pub use queries::{
    by_external_ref, deadlines_of, find, find_many, open_at_handler, page, position_of, status_of,
};
pub use transition::{
    CONCURRENT_RETRIES, Deferred, Guard, Record, Transition, Unguarded, transition,
    transition_deferring, transition_in,
};
