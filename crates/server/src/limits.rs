//! `Limits`: every bound the HTTP API puts on what a client may send or ask for.
//! Each field is named, documented with why it has its default, configurable
//! from the `[limits]` table of the server's config file, and enforced before
//! any work is done (oversized bodies are refused while streaming in).

use serde::{Deserialize, Serialize};

/// Bounds on requests. Breaking a byte, depth or length limit gets `413 Payload
/// Too Large` as problem+json naming the limit; page sizes above the maximum are
/// lowered to it, as Azure Digital Twins does with `max-items-per-page`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest body of `POST /models`. Whole ontologies are uploaded as one
    /// batch: RealEstateCore v3 (767 interfaces) is 0.4 MiB, ontologies with many
    /// languages reach a few MiB; 32 MiB leaves room while bounding the memory one
    /// upload pins (its parse tree is several times the text).
    pub models_body_bytes_max: usize,
    /// Largest body of a twin or relationship `PUT`/`PATCH`. Azure Digital Twins
    /// caps a twin at 32 KiB of properties; 1 MiB admits bigger twins (arrays,
    /// maps) without letting one request pin much memory.
    pub twin_body_bytes_max: usize,
    /// Largest body of `POST /query`: the query text plus a continuation token.
    pub query_body_bytes_max: usize,
    /// Largest body of the admin routes (`/worlds`, `/tokens`): a few names.
    pub admin_body_bytes_max: usize,
    /// Deepest nesting of arrays and objects in a JSON body. DTDL models nest
    /// schemas about 10 levels deep; 64 keeps the parser's recursion (and any
    /// recursive walk over the value later) far from the stack's end.
    pub json_depth_max: usize,
    /// Longest query text, in characters. Azure Digital Twins allows 8,000.
    pub query_chars_max: usize,
    /// Rows or items per page when the client does not say (`max-items-per-page`).
    pub page_items_default: usize,
    /// Most rows or items per page, whatever the client asks: one page is built in
    /// memory under the world's read lock.
    pub page_items_max: usize,
    /// Largest frame a live (WebSocket) client may send. Client messages are small
    /// (a subscription, a presence pose, a patch of one property); 64 KiB leaves
    /// room for a long query or a large property value.
    pub live_frame_bytes_max: usize,
    /// Largest frame the server encodes for one client in one tick; the rest of a
    /// large snapshot follows in the next ticks. 1 MiB is a few thousand twins.
    pub live_tick_bytes_max: usize,
    /// Messages per second one live connection may send (a token bucket of the
    /// same size). Presence at 30 Hz plus region moves at 60 Hz plus commands fit.
    pub live_messages_per_second_max: u32,
    /// Open subscriptions per live connection: a viewer needs a region and a few
    /// filters; each costs an interest set.
    pub live_subscriptions_max: usize,
    /// Open live connections per token: one person or bot has a few tabs; a load
    /// generator needs its own token or a higher bound.
    pub live_connections_per_token_max: usize,
    /// Ticks per second of each world's fan-out (20 to 60; clamped).
    pub live_tick_hz: u32,
    /// How long a live client may leave its last frame unread, while it has
    /// updates to receive, before it is disconnected as too slow (close 4008).
    pub live_behind_ms_max: u64,
    /// Twins one live connection may hold over all its subscriptions: bounds the
    /// memory of its interest sets and pending map (see `live::HubLimits`).
    pub live_twins_per_connection_max: usize,
    /// Recent twin changes each world keeps so a reconnecting client resumes
    /// without a fresh snapshot (~40 bytes each).
    pub live_history_changes_max: usize,
    /// Participants (live connections with a display name) per world.
    pub live_participants_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            models_body_bytes_max: 32 * 1024 * 1024,
            twin_body_bytes_max: 1024 * 1024,
            query_body_bytes_max: 64 * 1024,
            admin_body_bytes_max: 16 * 1024,
            json_depth_max: 64,
            query_chars_max: 8_000,
            page_items_default: 100,
            page_items_max: 1_000,
            live_frame_bytes_max: 64 * 1024,
            live_tick_bytes_max: 1024 * 1024,
            live_messages_per_second_max: 200,
            live_subscriptions_max: 16,
            live_connections_per_token_max: 1_000,
            live_tick_hz: 20,
            live_behind_ms_max: 10_000,
            live_twins_per_connection_max: 100_000,
            live_history_changes_max: 1_000_000,
            live_participants_max: 1_000,
        }
    }
}

impl Limits {
    /// The page size for a request that asked for `requested` items (from the
    /// `max-items-per-page` header): the default when absent or zero, at most the
    /// maximum.
    pub fn page_size(&self, requested: Option<usize>) -> usize {
        match requested {
            None | Some(0) => self.page_items_default,
            Some(n) => n.min(self.page_items_max),
        }
        .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_clamp() {
        let limits = Limits::default();
        assert_eq!(limits.page_size(None), 100);
        assert_eq!(limits.page_size(Some(0)), 100);
        assert_eq!(limits.page_size(Some(7)), 7);
        assert_eq!(limits.page_size(Some(1_000_000)), 1_000);
    }

    #[test]
    fn limits_read_from_toml_like_maps_with_defaults() {
        let limits: Limits = serde_json::from_str(r#"{"twin_body_bytes_max": 10}"#).unwrap();
        assert_eq!(limits.twin_body_bytes_max, 10);
        assert_eq!(limits.page_items_max, 1_000);
        assert!(serde_json::from_str::<Limits>(r#"{"twin_bytes": 10}"#).is_err());
    }
}
