//! Topic names and filters: validation against the broker's limits, matching,
//! the subscription index (a trie over levels), and which world a topic belongs
//! to for access checks (`twinspace/{world}/…`).

use std::collections::HashMap;

use crate::config::Limits;

/// The first level of every topic that belongs to a world.
pub const WORLD_TOPIC_ROOT: &str = "twinspace";

/// Checks a topic name a client publishes to. Returns what is wrong.
pub(crate) fn check_name(topic: &str, limits: &Limits) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic is empty".into());
    }
    if topic.len() > limits.topic_bytes_max {
        return Err(format!(
            "the topic has {} bytes, at most {} are allowed",
            topic.len(),
            limits.topic_bytes_max
        ));
    }
    if topic.contains(['+', '#', '\0']) {
        return Err("a topic name may not contain '+', '#' or NUL".into());
    }
    let levels = topic.split('/').count();
    if levels > limits.topic_levels_max {
        return Err(format!(
            "the topic has {levels} levels, at most {} are allowed",
            limits.topic_levels_max
        ));
    }
    Ok(())
}

/// Checks a topic filter a client subscribes to.
pub(crate) fn check_filter(filter: &str, limits: &Limits) -> Result<(), String> {
    if filter.is_empty() {
        return Err("the filter is empty".into());
    }
    if filter.len() > limits.topic_bytes_max {
        return Err(format!(
            "the filter has {} bytes, at most {} are allowed",
            filter.len(),
            limits.topic_bytes_max
        ));
    }
    if filter.contains('\0') {
        return Err("a filter may not contain NUL".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    if levels.len() > limits.topic_levels_max {
        return Err(format!(
            "the filter has {} levels, at most {} are allowed",
            levels.len(),
            limits.topic_levels_max
        ));
    }
    for (i, level) in levels.iter().enumerate() {
        let wild = level.contains(['+', '#']);
        if wild && level.len() != 1 {
            return Err(format!("level '{level}' mixes a wildcard with text"));
        }
        if *level == "#" && i + 1 != levels.len() {
            return Err("'#' may only be the last level".into());
        }
    }
    Ok(())
}

/// Whether `filter` matches `topic` (both already valid).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            _ => {
                if topic_levels.next() != Some(level) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

/// The world a topic name belongs to: the second level of `twinspace/{world}/…`.
pub(crate) fn world_of_topic(topic: &str) -> Option<&str> {
    let mut levels = topic.split('/');
    (levels.next()? == WORLD_TOPIC_ROOT).then_some(())?;
    levels.next()
}

/// The single world a filter is confined to, if it is: `twinspace/{world}/…`
/// with a literal world. Filters that can match topics of several worlds
/// (wildcards at the first two levels) or topics outside `twinspace/` give None.
pub(crate) fn world_of_filter(filter: &str) -> Option<&str> {
    let mut levels = filter.split('/');
    (levels.next()? == WORLD_TOPIC_ROOT).then_some(())?;
    let world = levels.next()?;
    (world != "+" && world != "#").then_some(world)
}

/// How a subscriber wants a filter's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SubOptions {
    /// Highest QoS granted (0 or 1).
    pub qos: u8,
    /// MQTT 5: do not send the client its own messages.
    pub no_local: bool,
    /// MQTT 5: keep the retain flag on forwarded messages.
    pub retain_as_published: bool,
}

/// Subscriptions indexed by filter levels, so a publish visits only the
/// branches its topic can match.
#[derive(Default)]
pub(crate) struct Trie {
    root: Node,
    count: usize,
}

#[derive(Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    /// Subscribers whose filter ends here.
    here: Vec<(u64, SubOptions)>,
    /// Subscribers with `#` at this point.
    rest: Vec<(u64, SubOptions)>,
}

impl Trie {
    /// Adds or replaces `session`'s subscription to `filter`.
    pub(crate) fn insert(&mut self, filter: &str, session: u64, options: SubOptions) {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                upsert(&mut node.rest, session, options, &mut self.count);
                return;
            }
            node = node.children.entry(level.into()).or_default();
        }
        upsert(&mut node.here, session, options, &mut self.count);
    }

    /// Removes `session`'s subscription to `filter`; true when there was one.
    pub(crate) fn remove(&mut self, filter: &str, session: u64) -> bool {
        fn walk(node: &mut Node, levels: &[&str], session: u64) -> bool {
            match levels {
                [] => take(&mut node.here, session),
                ["#"] => take(&mut node.rest, session),
                [first, rest @ ..] => match node.children.get_mut(*first) {
                    Some(child) => {
                        let removed = walk(child, rest, session);
                        if child.children.is_empty()
                            && child.here.is_empty()
                            && child.rest.is_empty()
                        {
                            node.children.remove(*first);
                        }
                        removed
                    }
                    None => false,
                },
            }
        }
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = walk(&mut self.root, &levels, session);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Calls `visit` for every subscription matching `topic`.
    pub(crate) fn for_each_match(&self, topic: &str, visit: &mut dyn FnMut(u64, SubOptions)) {
        fn walk(
            node: &Node,
            levels: &[&str],
            first: bool,
            dollar: bool,
            visit: &mut dyn FnMut(u64, SubOptions),
        ) {
            // `#` and `+` at the first level never match `$` topics.
            if !(first && dollar) {
                for (session, options) in &node.rest {
                    visit(*session, *options);
                }
            }
            match levels {
                [] => {
                    for (session, options) in &node.here {
                        visit(*session, *options);
                    }
                }
                [level, rest @ ..] => {
                    if let Some(child) = node.children.get(*level) {
                        walk(child, rest, false, dollar, visit);
                    }
                    if !(first && dollar)
                        && let Some(child) = node.children.get("+")
                    {
                        walk(child, rest, false, dollar, visit);
                    }
                }
            }
        }
        let levels: Vec<&str> = topic.split('/').collect();
        walk(&self.root, &levels, true, topic.starts_with('$'), visit);
    }

    /// Number of subscriptions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

fn upsert(list: &mut Vec<(u64, SubOptions)>, session: u64, options: SubOptions, count: &mut usize) {
    match list.iter_mut().find(|(s, _)| *s == session) {
        Some(entry) => entry.1 = options,
        None => {
            list.push((session, options));
            *count += 1;
        }
    }
}

fn take(list: &mut Vec<(u64, SubOptions)>, session: u64) -> bool {
    let before = list.len();
    list.retain(|(s, _)| *s != session);
    list.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    const QOS0: SubOptions = SubOptions {
        qos: 0,
        no_local: false,
        retain_as_published: false,
    };

    #[test]
    fn filters_match_as_the_specification_says() {
        for (filter, topic, expected) in [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "a/b", true),
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("a/+/c", "a//c", true),
            ("+", "", true),
            ("a/b", "a/b/", false),
        ] {
            assert_eq!(matches(filter, topic), expected, "{filter} vs {topic}");
        }
    }

    #[test]
    fn trie_agrees_with_matches() {
        let filters = [
            "a/b", "a/+", "a/#", "#", "+/+", "+/b/#", "$SYS/#", "a/+/c", "+", "a/b/c/#",
        ];
        let topics = [
            "a", "a/b", "a/b/c", "x/b/y", "$SYS/x", "a//c", "", "b", "a/b/c/d",
        ];
        let mut trie = Trie::default();
        for (i, filter) in filters.iter().enumerate() {
            trie.insert(filter, i as u64, QOS0);
        }
        for topic in topics {
            let mut got = Vec::new();
            trie.for_each_match(topic, &mut |s, _| got.push(s));
            got.sort();
            let expected: Vec<u64> = (0..filters.len() as u64)
                .filter(|&i| matches(filters[i as usize], topic))
                .collect();
            assert_eq!(got, expected, "topic {topic:?}");
        }
        for (i, filter) in filters.iter().enumerate() {
            assert!(trie.remove(filter, i as u64));
        }
        assert_eq!(trie.len(), 0);
        assert!(trie.root.children.is_empty());
    }

    proptest::proptest! {
        /// Random filters and topics over a small alphabet (so that they meet):
        /// the trie finds exactly the subscriptions `matches` says match, also
        /// after removing some of them.
        #[test]
        fn trie_agrees_with_matches_on_random_filters(
            filters in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(vec!["a", "b", "", "+", "$x"]), 1..5), 1..12),
            hash in proptest::collection::vec(proptest::bool::ANY, 12),
            topics in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(vec!["a", "b", "", "$x"]), 1..6), 1..8),
            removed in proptest::collection::vec(proptest::bool::ANY, 12),
        ) {
            let limits = Limits::default();
            let filters: Vec<String> = filters
                .iter()
                .zip(&hash)
                .map(|(levels, hash)| {
                    let mut filter = levels.join("/");
                    if *hash { filter.push_str("/#"); }
                    filter
                })
                .filter(|f| check_filter(f, &limits).is_ok())
                .collect();
            let mut trie = Trie::default();
            for (i, filter) in filters.iter().enumerate() {
                trie.insert(filter, i as u64, QOS0);
            }
            let mut live: Vec<bool> = vec![true; filters.len()];
            for (i, filter) in filters.iter().enumerate() {
                if removed[i] {
                    proptest::prop_assert!(trie.remove(filter, i as u64));
                    live[i] = false;
                }
            }
            for levels in &topics {
                let topic = levels.join("/");
                let mut got = Vec::new();
                trie.for_each_match(&topic, &mut |s, _| got.push(s));
                got.sort();
                let expected: Vec<u64> = (0..filters.len()).filter(|&i| live[i] && matches(&filters[i], &topic)).map(|i| i as u64).collect();
                proptest::prop_assert_eq!(got, expected, "topic {:?} filters {:?}", topic, filters);
            }
        }
    }

    #[test]
    fn worlds_of_topics_and_filters() {
        assert_eq!(world_of_topic("twinspace/plant/t1"), Some("plant"));
        assert_eq!(world_of_topic("other/plant/t1"), None);
        assert_eq!(world_of_filter("twinspace/plant/#"), Some("plant"));
        assert_eq!(world_of_filter("twinspace/+/t1"), None);
        assert_eq!(world_of_filter("twinspace/#"), None);
        assert_eq!(world_of_filter("#"), None);
    }

    #[test]
    fn filters_and_names_are_checked_against_limits() {
        let limits = Limits::default();
        assert!(check_filter("a/#/b", &limits).is_err());
        assert!(check_filter("a/b+", &limits).is_err());
        assert!(check_name("a/+", &limits).is_err());
        assert!(check_name(&"a/".repeat(20), &limits).is_err());
        assert!(check_name("twinspace/w/t", &limits).is_ok());
    }
}
