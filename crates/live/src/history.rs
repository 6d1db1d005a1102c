//! The changes a world made, as the live hub sees them (`Touched`: which twin,
//! which fields, when, at which `Seq`), and a bounded history of recent ones by
//! `Seq` so that a client reconnecting with its last `Seq` gets only what it
//! missed. Values are not kept: a resumed client is sent the twins' current
//! fields, read from the world when the tick encodes them.

use std::collections::VecDeque;
use std::sync::Arc;

use world::{Change, Seq, Timestamp, TwinId};

/// What happened to a twin.
#[derive(Clone, Debug, PartialEq)]
pub enum Touch {
    /// Created (or replaced as a whole by an earlier delete and create).
    Created,
    /// These top-level fields changed (`$placement` for the placement).
    Updated(Arc<[Arc<str>]>),
    /// Deleted.
    Deleted,
}

/// One twin changed by one applied command.
#[derive(Clone, Debug, PartialEq)]
pub struct Touched {
    /// The command's sequence number.
    pub seq: Seq,
    /// When it was applied (server clock); latency is measured from here.
    pub at: Timestamp,
    /// The twin.
    pub twin: TwinId,
    /// What changed.
    pub touch: Touch,
}

/// The twins an applied command touched, in order. Model and relationship
/// changes touch no twin's fields, so live subscribers do not see them.
pub fn touched(seq: Seq, at: Timestamp, changes: &[Change]) -> impl Iterator<Item = Touched> + '_ {
    changes.iter().filter_map(move |change| {
        let (twin, touch) = match change {
            Change::TwinCreated(id) => (id.clone(), Touch::Created),
            Change::TwinUpdated { id, fields } => (
                id.clone(),
                Touch::Updated(fields.iter().map(|f| Arc::from(f.as_str())).collect()),
            ),
            Change::TwinDeleted(id) => (id.clone(), Touch::Deleted),
            _ => return None,
        };
        Some(Touched {
            seq,
            at,
            twin,
            touch,
        })
    })
}

/// Recent changes, oldest first, at most `max` of them. Resuming after `seq` is
/// possible while `floor <= seq`: every change newer than `floor` is still held.
#[derive(Debug)]
pub(crate) struct History {
    entries: VecDeque<(Seq, TwinId)>,
    max: usize,
    floor: Seq,
}

impl History {
    /// An empty history that can resume from `start` on.
    pub(crate) fn new(start: Seq, max: usize) -> History {
        History {
            entries: VecDeque::new(),
            max: max.max(1),
            floor: start,
        }
    }

    /// Appends a change (in `Seq` order), dropping the oldest beyond the bound.
    pub(crate) fn push(&mut self, seq: Seq, twin: TwinId) {
        debug_assert!(self.entries.back().is_none_or(|(last, _)| *last <= seq));
        if self.entries.len() == self.max
            && let Some((dropped, _)) = self.entries.pop_front()
        {
            // Changes at `dropped` may remain, but everything after it is whole.
            self.floor = self.floor.max(dropped);
        }
        self.entries.push_back((seq, twin));
    }

    /// The oldest `Seq` a resume can start after.
    pub(crate) fn floor(&self) -> Seq {
        self.floor
    }

    /// The twins changed after `after`, each once, if the history reaches back
    /// that far.
    pub(crate) fn since(&self, after: Seq) -> Option<Vec<TwinId>> {
        if after < self.floor {
            return None;
        }
        let start = self.entries.partition_point(|(seq, _)| *seq <= after);
        let mut seen = std::collections::HashSet::new();
        Some(
            self.entries
                .range(start..)
                .filter(|(_, twin)| seen.insert(twin.clone()))
                .map(|(_, twin)| twin.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> TwinId {
        TwinId::parse(name).unwrap()
    }

    #[test]
    fn history_resumes_while_it_reaches_back_and_not_after() {
        let mut history = History::new(Seq(10), 3);
        assert_eq!(history.since(Seq(10)), Some(vec![]));
        assert_eq!(history.since(Seq(9)), None);
        history.push(Seq(11), id("a"));
        history.push(Seq(12), id("b"));
        history.push(Seq(12), id("a"));
        assert_eq!(history.since(Seq(10)), Some(vec![id("a"), id("b")]));
        assert_eq!(history.since(Seq(11)), Some(vec![id("b"), id("a")]));
        history.push(Seq(13), id("c"));
        // Seq 11 fell out: resuming after 10 would miss it.
        assert_eq!(history.floor(), Seq(11));
        assert_eq!(history.since(Seq(10)), None);
        assert_eq!(
            history.since(Seq(11)),
            Some(vec![id("b"), id("a"), id("c")])
        );
        assert_eq!(history.since(Seq(13)), Some(vec![]));
    }

    #[test]
    fn changes_become_touches_and_model_changes_none() {
        let changes = [
            Change::TwinCreated(id("a")),
            Change::TwinUpdated {
                id: id("b"),
                fields: vec!["temperature".into()],
            },
            Change::ModelsAdded(vec![]),
            Change::TwinDeleted(id("c")),
        ];
        let touches: Vec<Touch> = touched(Seq(5), Timestamp(1), &changes)
            .map(|t| t.touch)
            .collect();
        assert_eq!(
            touches,
            [
                Touch::Created,
                Touch::Updated(Arc::from([Arc::from("temperature")])),
                Touch::Deleted
            ]
        );
    }
}
