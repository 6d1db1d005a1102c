//! The topic → twin mapping rules in force: those of the config file (fixed at
//! start, tried first) and those each world's editors manage over REST
//! (`/worlds/{world}/ingest/rules`), stored durably in `server/ingest-rules`
//! (key `world \0 name`, value the rule as JSON). Every change compiles one new
//! `ingest::Mapper` — config rules, then each world's rules in world order, then
//! the default rule — and hands it to every listener (the broker, the bridges),
//! so a message is mapped by one consistent rule set.
//!
//! A world's rules may only reach that world: their world is that world, their
//! topic filters may not overlap another world's rules or another world's default
//! topics (`twinspace/{other}/…`), and their dead letters stay under
//! `twinspace/{world}/`. So an editor of one world can neither take another
//! world's messages nor publish into its topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use ingest::{Mapper, Rule};
use parking_lot::Mutex;
use store::{Batch, Store, TableName};

use crate::ApiError;

/// The table holding REST-managed rules.
const TABLE: &str = "server/ingest-rules";
/// Longest name of a REST-managed rule: its compiled name is `{world}/{name}`,
/// and world ids (≤ 63) plus this stay within the mapper's 80 characters.
pub const RULE_NAME_CHARS_MAX: usize = 16;
/// Most REST-managed rules per world (the mapper holds at most
/// `ingest::RULES_MAX` in all).
pub const RULES_PER_WORLD_MAX: usize = 100;

/// Receives every newly compiled mapper.
pub type MapperListener = Arc<dyn Fn(Mapper) + Send + Sync>;

/// The rule set and who follows it.
pub struct IngestRules {
    store: Arc<dyn Store>,
    table: TableName,
    state: Mutex<State>,
}

struct State {
    config: Vec<Rule>,
    default_rule: bool,
    /// world → rule name → rule (its `world` is the world's id).
    by_world: BTreeMap<String, BTreeMap<String, Rule>>,
    listeners: Vec<MapperListener>,
}

impl State {
    /// Every rule in mapping order, REST rules under their compiled names.
    fn compile(&self) -> Result<Mapper, ingest::RuleError> {
        let mut rules = self.config.clone();
        for (world, named) in &self.by_world {
            for rule in named.values() {
                rules.push(Rule {
                    name: format!("{world}/{}", rule.name),
                    ..rule.clone()
                });
            }
        }
        Mapper::new(rules, self.default_rule)
    }
}

impl IngestRules {
    /// Reads the stored rules. Rules that no longer compile (an older version's)
    /// are kept in the store but left out, with a warning.
    pub fn load(store: Arc<dyn Store>) -> Result<IngestRules, ApiError> {
        let table = TableName::new(TABLE)?;
        let mut by_world: BTreeMap<String, BTreeMap<String, Rule>> = BTreeMap::new();
        store.scan(&table, &mut |key, value| {
            let parsed = std::str::from_utf8(key)
                .ok()
                .and_then(|k| k.split_once('\0'))
                .zip(serde_json::from_slice::<Rule>(value).ok());
            match parsed {
                Some(((world, name), rule)) => {
                    by_world
                        .entry(world.to_owned())
                        .or_default()
                        .insert(name.to_owned(), rule);
                }
                None => tracing::warn!(
                    key = %String::from_utf8_lossy(key),
                    "a stored ingest rule cannot be read; it is left out"
                ),
            }
            true
        })?;
        let rules = IngestRules {
            store,
            table,
            state: Mutex::new(State {
                config: Vec::new(),
                default_rule: true,
                by_world,
                listeners: Vec::new(),
            }),
        };
        Ok(rules)
    }

    /// Sets the config file's rules and whether the default rule applies, and
    /// returns the mapper of the whole set. Call before anything listens.
    pub fn configure(&self, config: Vec<Rule>, default_rule: bool) -> Result<Mapper, ApiError> {
        let mut state = self.state.lock();
        state.config = config;
        state.default_rule = default_rule;
        state.compile().map_err(|error| {
            ApiError::bad_request(
                "InvalidArgument",
                format!("the mapping rules do not compile: {error}"),
            )
        })
    }

    /// The mapper of the current rule set.
    pub fn mapper(&self) -> Result<Mapper, ApiError> {
        self.state.lock().compile().map_err(|error| {
            ApiError::Internal(format!("the mapping rules do not compile: {error}"))
        })
    }

    /// Calls `listener` with every mapper compiled after a change from now on.
    pub fn follow(&self, listener: MapperListener) {
        self.state.lock().listeners.push(listener);
    }

    /// A world's REST-managed rules, by name.
    pub fn list(&self, world: &str) -> Vec<Rule> {
        self.state
            .lock()
            .by_world
            .get(world)
            .map(|named| named.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One of a world's rules.
    pub fn get(&self, world: &str, name: &str) -> Option<Rule> {
        self.state.lock().by_world.get(world)?.get(name).cloned()
    }

    /// Creates or replaces a world's rule, durably; true when it is new. The
    /// rule's `world` must be the world (or left as the default `{world}`).
    pub fn put(&self, world: &str, mut rule: Rule) -> Result<bool, ApiError> {
        check_name(&rule.name)?;
        if rule.world != "{world}" && rule.world != world {
            return Err(invalid(format!(
                "rule '{}' maps into world '{}', but rules of world '{world}' map into '{world}' only (leave `world` out)",
                rule.name, rule.world
            )));
        }
        rule.world = world.to_owned();
        check_topic(world, &rule)?;
        let mut state = self.state.lock();
        for (other, named) in &state.by_world {
            if other == world {
                continue;
            }
            if let Some(clash) = named.values().find(|r| overlap(&r.topic, &rule.topic)) {
                return Err(ApiError::Conflict {
                    code: "RuleConflict",
                    message: format!(
                        "rule '{}' (topic '{}') would take messages of world '{other}''s rule '{}' (topic '{}'); choose topics the other world's rules cannot match",
                        rule.name, rule.topic, clash.name, clash.topic
                    ),
                });
            }
        }
        let rules = state.by_world.entry(world.to_owned()).or_default();
        let created = !rules.contains_key(&rule.name);
        if created && rules.len() >= RULES_PER_WORLD_MAX {
            return Err(ApiError::Conflict {
                code: "TooManyRules",
                message: format!(
                    "world '{world}' has {RULES_PER_WORLD_MAX} mapping rules, the most allowed; delete one first"
                ),
            });
        }
        let previous = rules.insert(rule.name.clone(), rule.clone());
        let mapper = match state.compile() {
            Ok(mapper) => mapper,
            Err(error) => {
                restore(&mut state, world, &rule.name, previous);
                return Err(invalid(format!(
                    "rule '{}' is not valid: {error}",
                    rule.name
                )));
            }
        };
        let value = serde_json::to_vec(&rule).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut batch = Batch::new();
        batch.put(&self.table, key(world, &rule.name), value);
        if let Err(error) = self.store.commit(&[batch]) {
            restore(&mut state, world, &rule.name, previous);
            return Err(error.into());
        }
        notify(&state, mapper);
        Ok(created)
    }

    /// Deletes a world's rule, durably; false when there was none.
    pub fn delete(&self, world: &str, name: &str) -> Result<bool, ApiError> {
        let mut state = self.state.lock();
        if state
            .by_world
            .get(world)
            .is_none_or(|r| !r.contains_key(name))
        {
            return Ok(false);
        }
        let mut batch = Batch::new();
        batch.delete(&self.table, key(world, name));
        self.store.commit(&[batch])?;
        let rules = state.by_world.entry(world.to_owned()).or_default();
        rules.remove(name);
        if rules.is_empty() {
            state.by_world.remove(world);
        }
        if let Ok(mapper) = state.compile() {
            notify(&state, mapper);
        }
        Ok(true)
    }

    /// Deletes every rule of a world (the world is gone), durably.
    pub fn drop_world(&self, world: &str) -> Result<(), ApiError> {
        let mut state = self.state.lock();
        let Some(rules) = state.by_world.get(world) else {
            return Ok(());
        };
        let mut batch = Batch::new();
        for name in rules.keys() {
            batch.delete(&self.table, key(world, name));
        }
        self.store.commit(&[batch])?;
        state.by_world.remove(world);
        if let Ok(mapper) = state.compile() {
            notify(&state, mapper);
        }
        Ok(())
    }
}

fn key(world: &str, name: &str) -> Vec<u8> {
    format!("{world}\0{name}").into_bytes()
}

fn restore(state: &mut State, world: &str, name: &str, previous: Option<Rule>) {
    let rules = state.by_world.entry(world.to_owned()).or_default();
    match previous {
        Some(rule) => {
            rules.insert(name.to_owned(), rule);
        }
        None => {
            rules.remove(name);
            if rules.is_empty() {
                state.by_world.remove(world);
            }
        }
    }
}

fn notify(state: &State, mapper: Mapper) {
    for listener in &state.listeners {
        listener(mapper.clone());
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= RULE_NAME_CHARS_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "'{name}' is not a rule name: use 1 to {RULE_NAME_CHARS_MAX} of A-Z, a-z, 0-9, '-' and '_'"
        )))
    }
}

/// One level of a topic filter, as far as matching goes.
#[derive(PartialEq)]
enum Level<'a> {
    Literal(&'a str),
    /// `+` or a `{capture}`: exactly one level.
    One,
    /// `#`: any number of levels, including none.
    Rest,
}

fn levels(filter: &str) -> Vec<Level<'_>> {
    filter
        .split('/')
        .map(|level| match level {
            "#" => Level::Rest,
            "+" => Level::One,
            _ if level.starts_with('{') && level.ends_with('}') => Level::One,
            _ => Level::Literal(level),
        })
        .collect()
}

/// Whether some topic matches both filters.
fn overlap(a: &str, b: &str) -> bool {
    let (a, b) = (levels(a), levels(b));
    for i in 0.. {
        match (a.get(i), b.get(i)) {
            (Some(Level::Rest), _) | (_, Some(Level::Rest)) => return true,
            (None, None) => return true,
            // One filter is longer: only `#` (zero levels) could close the gap,
            // and that case returned above.
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(Level::Literal(x)), Some(Level::Literal(y))) if x != y => return false,
            _ => {}
        }
    }
    false
}

/// A world's rule stays out of other worlds' default topics and dead letters.
fn check_topic(world: &str, rule: &Rule) -> Result<(), ApiError> {
    let topic = levels(&rule.topic);
    let under_twinspace = matches!(
        topic.first(),
        Some(Level::Literal("twinspace") | Level::One | Level::Rest)
    );
    let own_world = matches!(topic.get(1), Some(Level::Literal(w)) if *w == world);
    if under_twinspace && !own_world {
        return Err(ApiError::Conflict {
            code: "RuleConflict",
            message: format!(
                "rule '{}' (topic '{}') could take messages on twinspace/{{other world}}/…, which belong to that world; under twinspace/ use twinspace/{world}/…",
                rule.name, rule.topic
            ),
        });
    }
    if let Some(dead_letter) = &rule.dead_letter
        && !dead_letter.starts_with(&format!("twinspace/{world}/"))
    {
        return Err(invalid(format!(
            "rule '{}' sends dead letters to '{dead_letter}'; a world's rules send them under twinspace/{world}/",
            rule.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, topic: &str) -> Rule {
        Rule {
            name: name.into(),
            topic: topic.into(),
            world: "{world}".into(),
            twin: "{machine}".into(),
            values: Vec::new(),
            timestamp: None,
            dead_letter: None,
        }
    }

    fn rules() -> (IngestRules, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(store::RedbStore::open(&dir.path().join("s.redb")).unwrap());
        (IngestRules::load(store).unwrap(), dir)
    }

    #[test]
    fn overlap_follows_mqtt_matching() {
        assert!(overlap("a/+/c", "a/b/c"));
        assert!(overlap("a/#", "a"));
        assert!(overlap("a/#", "a/b/c/d"));
        assert!(overlap("+/{x}/c", "a/b/+"));
        assert!(!overlap("a/b", "a/c"));
        assert!(!overlap("a/b", "a/b/c"));
        assert!(!overlap("plant/{m}/state", "plant/{m}/alarm"));
        assert!(overlap("#", "anything/at/all"));
    }

    #[test]
    fn a_worlds_rules_reach_only_that_world_and_survive_a_reload() {
        let (registry, dir) = rules();
        let seen = Arc::new(Mutex::new(0usize));
        {
            let seen = Arc::clone(&seen);
            registry.follow(Arc::new(move |_| *seen.lock() += 1));
        }
        assert!(
            registry
                .put("a", rule("plc", "plant-a/{machine}/state"))
                .unwrap()
        );
        assert!(
            !registry
                .put("a", rule("plc", "plant-a/{machine}/state"))
                .unwrap()
        );
        assert_eq!(*seen.lock(), 2);
        let mapper = registry.mapper().unwrap();
        assert_eq!(
            mapper.world_of("plant-a/m1/state"),
            Some(Some(world::WorldId::parse("a").unwrap()))
        );

        // Another world may not take the same messages, nor the default topics
        // of other worlds, nor send dead letters elsewhere, nor name a world.
        let clash = registry.put("b", rule("x", "plant-a/+/#")).unwrap_err();
        assert!(
            clash.to_string().contains("world 'a''s rule 'plc'"),
            "{clash}"
        );
        let foreign = registry
            .put("b", rule("x", "twinspace/+/{machine}"))
            .unwrap_err();
        assert!(foreign.to_string().contains("twinspace/b/"), "{foreign}");
        assert!(
            registry
                .put("b", rule("own", "twinspace/b/x/{machine}"))
                .is_ok()
        );
        let mut letters = rule("dl", "plant-b/{machine}");
        letters.dead_letter = Some("twinspace/a/deadletter".into());
        assert!(registry.put("b", letters).is_err());
        let mut elsewhere = rule("w", "plant-b/{machine}");
        elsewhere.world = "a".into();
        assert!(
            registry
                .put("b", elsewhere)
                .unwrap_err()
                .to_string()
                .contains("'b' only")
        );
        assert!(registry.put("b", rule("bad name!", "plant-b/{m}")).is_err());
        // A rule the mapper refuses (a capture the twin template uses is missing).
        let mut broken = rule("broken", "plant-b/{m}");
        broken.twin = "{nothere}".into();
        assert!(registry.put("b", broken).is_err());
        assert!(
            registry.get("b", "broken").is_none(),
            "a refused rule is not kept"
        );

        // Reloaded from the store: the same rules.
        let store: Arc<dyn Store> = Arc::clone(&registry.store);
        drop(registry);
        let reloaded = IngestRules::load(store).unwrap();
        assert_eq!(reloaded.list("a").len(), 1);
        assert_eq!(reloaded.list("b").len(), 1);
        assert_eq!(reloaded.get("a", "plc").unwrap().world, "a");
        assert!(reloaded.delete("a", "plc").unwrap());
        assert!(!reloaded.delete("a", "plc").unwrap());
        reloaded.drop_world("b").unwrap();
        assert!(reloaded.list("b").is_empty());
        drop(dir);
    }
}
