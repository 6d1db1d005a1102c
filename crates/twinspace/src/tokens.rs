//! `twinspace token create|list|revoke`: manage bearer tokens directly in a data
//! directory's store. The embedded store is held by one process at a time, so
//! these work while the server is stopped; a running server's admins use
//! `POST/GET/DELETE /tokens` instead.

use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Subcommand;
use server::{Grant, Role, Tokens};

use crate::DataDirArg;
use crate::serve::open_store;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print its secret (once).
    Create {
        #[command(flatten)]
        data: DataDirArg,
        /// viewer, operator, editor, admin or ingest.
        #[arg(long)]
        role: String,
        /// The world the role is for, or * for every world.
        #[arg(long, default_value = "default")]
        world: String,
        /// A note for humans.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (ids, labels, grants; never secrets).
    List {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        data: DataDirArg,
        /// The token's id (from `token list`).
        id: String,
    },
}

fn open_tokens(data: &DataDirArg) -> Result<Tokens> {
    let store: Arc<dyn store::Store> = Arc::new(open_store(&data.data_dir)?);
    Ok(Tokens::load(store)?)
}

pub(crate) fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create {
            data,
            role,
            world,
            label,
        } => {
            let Some(role) = Role::parse(&role) else {
                bail!("unknown role {role:?}: use viewer, operator, editor, admin or ingest");
            };
            let tokens = open_tokens(&data)?;
            let (secret, info) =
                tokens.create(vec![Grant { world, role }], &label, server::worlds::now())?;
            println!(
                "token {} created; its secret (shown only this once):",
                info.id
            );
            println!("{secret}");
        }
        TokenCommand::List { data } => {
            for info in open_tokens(&data)?.list() {
                let grants: Vec<String> = info
                    .grants
                    .iter()
                    .map(|g| format!("{}@{}", g.role, g.world))
                    .collect();
                println!(
                    "{}\t{}\t{}\t{}",
                    info.id,
                    info.created,
                    grants.join(","),
                    info.label
                );
            }
        }
        TokenCommand::Revoke { data, id } => {
            if !open_tokens(&data)?.revoke(&id)? {
                bail!("there is no token with id {id:?}");
            }
            println!("token {id} revoked");
        }
    }
    Ok(())
}
