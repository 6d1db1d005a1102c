//! Durable storage: the `Store` trait, the embedded redb backend and group commit.
