//! The `twinspace` binary: command line, configuration and wiring. `serve` runs
//! the server over the embedded store; `token` manages bearer tokens directly in
//! a data directory (while no server holds it); `models` validates or imports a
//! folder of DTDL files; `twin` and `query` are small clients of a running server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Worlds are millions of small allocations (JSON values, names, property
/// lists); glibc malloc spent more time in its free lists than we did in
/// restore and JSON building, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_live;
mod bench_restart;
mod client;
mod config;
mod demo;
mod models;
mod scenario;
mod serve;
mod tokens;

/// Twinspace: digital twins, live and in 3D, behind the Azure Digital Twins API.
#[derive(Parser)]
#[command(name = "twinspace", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage bearer tokens in a data directory (stop the server first).
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Validate or import DTDL models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Read, write or delete twins on a running server.
    Twin {
        #[command(subcommand)]
        command: client::TwinCommand,
    },
    /// Run an ADT query on a running server and print every row as JSON lines.
    Query(client::QueryArgs),
    /// Measure HTTP throughput (twins created/s, durable patches/s); starts its own server unless --url.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Run OpenSCENARIO files headless: one with a summary, or a folder as a test suite.
    Scenario {
        #[command(subcommand)]
        command: scenario::ScenarioCommand,
    },
}

/// The data directory option shared by offline commands.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct DataDirArg {
    /// The server's data directory.
    #[arg(long, env = "TWINSPACE_DATA_DIR", default_value = "twinspace-data")]
    pub(crate) data_dir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<ExitCode> = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| ExitCode::SUCCESS),
        Command::Token { command } => tokens::run(command).map(|()| ExitCode::SUCCESS),
        Command::Models { command } => models::run(command),
        Command::Twin { command } => client::twin(command).map(|()| ExitCode::SUCCESS),
        Command::Query(args) => client::query(args).map(|()| ExitCode::SUCCESS),
        Command::Bench { command } => bench::run(command).map(|()| ExitCode::SUCCESS),
        Command::Scenario { command } => Ok(scenario::run(command)),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
