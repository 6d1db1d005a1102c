//! Small clients of a running server: `twinspace twin get|put|delete` and
//! `twinspace query`, plus the HTTP plumbing `models import` shares. Errors from
//! the server are shown with their problem+json detail.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

/// Most query pages `twinspace query` follows: bounds a runaway listing.
const QUERY_PAGES_MAX: usize = 100_000;

/// Where the server is and how to authenticate.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct RemoteArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080 or .../worlds/plant-7.
    #[arg(long, env = "TWINSPACE_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A bearer token (tsk_...).
    #[arg(long, env = "TWINSPACE_TOKEN")]
    token: String,
}

pub(crate) struct Remote {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Remote {
    pub(crate) fn new(args: RemoteArgs) -> Result<Remote> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .new_agent();
        Ok(Remote {
            agent,
            base: args.url.trim_end_matches('/').to_owned(),
            token: args.token,
        })
    }

    /// Sends a request and returns the JSON answer (`null` for 204); a problem is an error.
    pub(crate) fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(b),
            _ => bail!("unsupported request {method} {path}"),
        }
        .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {url}"))?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status >= 400 {
            let detail = value
                .get("detail")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned);
            bail!("{method} {path}: {status}: {detail}");
        }
        Ok(value)
    }
}

#[derive(Subcommand)]
pub(crate) enum TwinCommand {
    /// Print a twin.
    Get {
        /// The twin's id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Create or replace a twin from a JSON file.
    Put {
        /// The twin's id.
        id: String,
        /// A JSON file with the twin's body.
        file: PathBuf,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Delete a twin.
    Delete {
        /// The twin's id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Percent-encodes an id for one URL path segment.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn twin(command: TwinCommand) -> Result<()> {
    match command {
        TwinCommand::Get { id, remote } => {
            let twin = Remote::new(remote)?.send(
                "GET",
                &format!("/digitaltwins/{}", segment(&id)),
                None,
            )?;
            println!("{}", serde_json::to_string_pretty(&twin)?);
        }
        TwinCommand::Put { id, file, remote } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            let twin = Remote::new(remote)?.send(
                "PUT",
                &format!("/digitaltwins/{}", segment(&id)),
                Some(&body),
            )?;
            println!("{}", serde_json::to_string_pretty(&twin)?);
        }
        TwinCommand::Delete { id, remote } => {
            Remote::new(remote)?.send(
                "DELETE",
                &format!("/digitaltwins/{}", segment(&id)),
                None,
            )?;
            println!("twin {id} deleted");
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub(crate) struct QueryArgs {
    /// The query, e.g. "SELECT * FROM DIGITALTWINS T WHERE T.temperature > 30".
    text: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub(crate) fn query(args: QueryArgs) -> Result<()> {
    let remote = Remote::new(args.remote)?;
    let mut token = Value::Null;
    for _ in 0..QUERY_PAGES_MAX {
        let page = remote.send(
            "POST",
            "/query",
            Some(&json!({ "query": args.text, "continuationToken": token })),
        )?;
        for row in page
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            println!("{row}");
        }
        token = page
            .get("continuationToken")
            .cloned()
            .unwrap_or(Value::Null);
        if token.is_null() {
            return Ok(());
        }
    }
    bail!("stopped after {QUERY_PAGES_MAX} pages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(segment("Room 1/ä"), "Room%201%2F%C3%A4");
        assert_eq!(segment("pump-1"), "pump-1");
    }
}
