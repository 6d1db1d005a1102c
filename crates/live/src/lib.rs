//! Live worlds: the fan-out engine behind `GET /worlds/{world}/live`. Pure logic
//! over a `world::World`: no sockets, no clock (time is an argument), no threads.
//!
//! - `criteria`: what a subscription matches (ADT query WHERE, model, region box
//!   or sphere, or all of them at once).
//! - `history`: the changes the hub is told about (`Touched`, made from a write's
//!   `world::Change`s by `touched`) and the bounded history that lets a client
//!   resume after a reconnect.
//! - `hub`: `Hub`, one world's connections, interest sets, conflated pending
//!   events, presence and chat, and the per-tick encoding of one frame per client.
//! - `replay`: one connection's replay of recorded history (a clock mapping wall
//!   time to recorded time, and the replayed view folded into `Tick`s marked with
//!   `Tick.replay`).
//!
//! The wire types come from the `proto` crate; this crate decides what to send and
//! when, the server decides where.

mod criteria;
mod history;
mod hub;
pub mod replay;

pub use criteria::{Criteria, REGION_EXTENT_MAX, Region};
pub use history::{Touch, Touched, touched};
pub use hub::{
    ANNOTATION_BACKLOG_MAX, CHAT_BACKLOG_MAX, ConnId, Hub, HubLimits, SubId, TickOutput,
};

/// Why the hub refused a request. `code()` is the protocol's stable error code.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LiveError {
    /// The subscription's query does not parse or is outside the live subset.
    #[error("the subscription's query is not valid: {0}")]
    InvalidQuery(String),
    /// The subscription's model is not a DTMI.
    #[error("the subscription's model is not valid: {0}")]
    InvalidModel(String),
    /// The region is malformed.
    #[error("the region is not valid: {0}")]
    InvalidRegion(String),
    /// The connection already has a subscription with this id.
    #[error("subscription {0} is already open on this connection; choose another id")]
    DuplicateSubscription(u32),
    /// No subscription with this id.
    #[error("there is no subscription {0} on this connection")]
    SubscriptionNotFound(u32),
    /// Too many subscriptions on one connection.
    #[error("a connection may hold at most {max} subscriptions; unsubscribe one first")]
    TooManySubscriptions {
        /// The bound.
        max: usize,
    },
    /// A subscription would hold more twins than the connection may.
    #[error(
        "the subscription matches more twins than a connection may hold ({max}); narrow its query, model or region"
    )]
    TooManyTwins {
        /// The bound.
        max: usize,
    },
    /// Presence and chat need a display name in `Hello`.
    #[error("presence and chat need a display name: send one in Hello.display_name")]
    NotAParticipant,
    /// The world has as many participants as allowed.
    #[error(
        "the world has {max} participants, the most allowed; connect without a display name to watch"
    )]
    TooManyParticipants {
        /// The bound.
        max: usize,
    },
    /// A replay request is malformed (speed out of range, no replay running...).
    #[error("the replay request is not valid: {0}")]
    InvalidReplay(String),
    /// The connection is not registered (closed meanwhile).
    #[error("the connection is closed")]
    NoConnection,
}

impl LiveError {
    /// The protocol's error code (`Error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            LiveError::InvalidQuery(_) => "InvalidQuery",
            LiveError::InvalidModel(_)
            | LiveError::InvalidRegion(_)
            | LiveError::InvalidReplay(_) => "InvalidArgument",
            LiveError::DuplicateSubscription(_) => "SubscriptionExists",
            LiveError::SubscriptionNotFound(_) => "SubscriptionNotFound",
            LiveError::TooManySubscriptions { .. }
            | LiveError::TooManyTwins { .. }
            | LiveError::TooManyParticipants { .. } => "LimitExceeded",
            LiveError::NotAParticipant => "NotAParticipant",
            LiveError::NoConnection => "ConnectionClosed",
        }
    }
}
