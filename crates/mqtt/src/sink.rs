//! Where mapped updates go. The broker hands each read's worth of
//! [`TwinUpdate`]s to a [`Sink`] in one call; the sink applies them (the server:
//! `World::apply` per update, then the store's group commit) and answers which
//! it refused and a [`Durable`] future that resolves once the rest is durable.
//! QoS 1 PUBLISHes are acknowledged only after that future resolves `Ok`.

use std::future::Future;
use std::pin::Pin;

use ingest::TwinUpdate;

use crate::SinkError;

/// Resolves when every accepted update of one submission is durable.
pub type Durable = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send>>;

/// The answer to one submission.
pub struct Submitted {
    /// Updates the sink refused, by index in the submission, with the reason
    /// (unknown twin, a value its model does not allow, …). They are counted
    /// and dead-lettered like mapping rejections.
    pub refused: Vec<(usize, String)>,
    /// Resolves when the accepted updates are durable; `None` when nothing
    /// needs waiting for (nothing accepted, or a sink without durability).
    pub durable: Option<Durable>,
}

/// Applies mapped updates.
pub trait Sink: Send + Sync + 'static {
    /// Applies `updates` in order. Called from the connection's task: keep it
    /// short (apply and queue the commit; the waiting is in `durable`).
    fn submit(&self, updates: Vec<TwinUpdate>) -> Submitted;
}
