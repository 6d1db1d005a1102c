//! `twinspace scenario run FILE.xosc` (run one OpenSCENARIO file headless, print
//! progress and a KPI summary, optionally write the trajectory CSV and the JSON
//! report) and `twinspace scenario test DIR` (run every `.xosc` under a folder on
//! a bounded pool of threads and write JSON and JUnit reports for CI). The
//! simulation itself is the `sim` crate's; this module only does what `sim` must
//! not: reading files, reading the wall clock, threads and exit codes. Exit codes:
//! 0 passed, 1 a scenario failed, 2 something could not be read, parsed or run.

use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Largest file read for a scenario, catalog or road network. The same figure as
/// the sim parser's own input bound, so an oversized file is refused before it
/// is read into memory rather than after.
const FILE_BYTES_MAX: u64 = 64 << 20;
/// Most `.xosc` files one `scenario test` folder may hold (bounds the walk and
/// the reports held until the end).
const SCENARIO_FILES_MAX: usize = 100_000;
/// Deepest folder nesting walked by `scenario test`.
const FOLDER_DEPTH_MAX: usize = 32;
/// Most names a catalog folder listing may return.
const CATALOG_ENTRIES_MAX: usize = 100_000;
/// Most worker threads `--jobs` may ask for.
const JOBS_MAX: usize = 256;
/// Most trajectory rows `--record` keeps in memory (about 100 bytes each, so
/// roughly 2 GB); the run stops with an error beyond it instead of exhausting memory.
const RECORD_ROWS_MAX: usize = 20_000_000;
/// Longest `--max-time`, s (a day of simulated time).
const MAX_TIME_LIMIT_S: f64 = 86_400.0;
/// Most pair and collision lines printed in the `run` summary; the JSON report has all.
const SUMMARY_LINES_MAX: usize = 20;

/// Exit code when the scenario ran and failed.
const EXIT_FAILED: u8 = 1;
/// Exit code when a file could not be read, parsed, loaded or run (no verdict).
const EXIT_ERROR: u8 = 2;

#[derive(Subcommand)]
pub(crate) enum ScenarioCommand {
    /// Run one OpenSCENARIO file; exit 0 when it passed, 1 when it failed, 2 when it could not run.
    Run(RunArgs),
    /// Run every .xosc under DIR in parallel; exit 0 only when all passed.
    Test(TestArgs),
}

/// Settings shared by `run` and `test`.
#[derive(Args, Clone, Debug)]
pub(crate) struct StepArgs {
    /// Fixed simulation step, s.
    #[arg(long, default_value_t = 0.01)]
    step: f64,
    /// Simulated time after which a run that has not ended fails, s.
    #[arg(long, default_value_t = 300.0, value_parser = parse_max_time)]
    max_time: f64,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The scenario; catalogs and the road network are read relative to its folder.
    file: PathBuf,
    #[command(flatten)]
    settings: StepArgs,
    /// Write the trajectory of every entity at every step as CSV to this file.
    #[arg(long, value_name = "OUT.csv")]
    record: Option<PathBuf>,
    /// Write the JSON report to this file.
    #[arg(long, value_name = "OUT.json")]
    report: Option<PathBuf>,
    /// Print no progress lines (the summary is still printed).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    live: LiveArgs,
}

#[derive(Args)]
pub(crate) struct TestArgs {
    /// The folder searched (recursively) for .xosc files.
    dir: PathBuf,
    /// Worker threads (default: the available cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=JOBS_MAX as i64))]
    jobs: Option<u16>,
    #[command(flatten)]
    settings: StepArgs,
    /// Write the JSON report of every scenario to this file.
    #[arg(long, value_name = "report.json")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report to this file.
    #[arg(long, value_name = "junit.xml")]
    junit: Option<PathBuf>,
}

fn parse_max_time(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(value.is_finite() && value > 0.0 && value <= MAX_TIME_LIMIT_S) {
        return Err(format!(
            "must be more than 0 and at most {MAX_TIME_LIMIT_S} s"
        ));
    }
    Ok(value)
}

/// Runs a scenario verb and turns its outcome into the exit code; errors that
/// leave no verdict are printed here and exit with 2, not the binary's usual 1,
/// so CI can tell a broken file from a failed scenario.
pub(crate) fn run(command: ScenarioCommand) -> ExitCode {
    let result = match command {
        ScenarioCommand::Run(args) => run_file(&args),
        ScenarioCommand::Test(args) => test_dir(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Reads the files a scenario refers to (catalog folders, the road network)
/// relative to the scenario's own folder, which is how OpenSCENARIO tools
/// resolve `filepath` and `Directory path` attributes.
struct FolderResolver {
    base: PathBuf,
}

impl FolderResolver {
    fn for_scenario(file: &Path) -> FolderResolver {
        FolderResolver {
            base: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    }
}

impl sim::Resolver for FolderResolver {
    fn read(&self, path: &str) -> Result<String, String> {
        read_text(&self.base.join(path)).map_err(|e| format!("{e:#}"))
    }

    fn list(&self, directory: &str) -> Result<Vec<String>, String> {
        let folder = self.base.join(directory);
        let entries =
            std::fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", folder.display()))?;
            if names.len() >= CATALOG_ENTRIES_MAX {
                return Err(format!(
                    "{} holds more than {CATALOG_ENTRIES_MAX} entries",
                    folder.display()
                ));
            }
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        // Sorted so catalog lookups and their error messages do not depend on the file system's order.
        names.sort();
        Ok(names)
    }
}

/// Reads a UTF-8 file of at most [`FILE_BYTES_MAX`] bytes.
fn read_text(path: &Path) -> Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    // `take` bounds the read even when the metadata lies (pipes, growing files).
    file.take(FILE_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    if text.len() as u64 > FILE_BYTES_MAX {
        bail!(
            "{} is larger than the {} MiB allowed",
            path.display(),
            FILE_BYTES_MAX >> 20
        );
    }
    Ok(text)
}

/// Why a file could not be turned into a runner.
enum LoadError {
    /// The file is an OpenSCENARIO catalog, not a scenario (`scenario test` skips these).
    Catalog(Box<sim::Error>),
    /// Anything else: unreadable, malformed, unresolved references, bad settings.
    Other(anyhow::Error),
}

impl From<LoadError> for anyhow::Error {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Catalog(e) => (*e).into(),
            LoadError::Other(e) => e,
        }
    }
}

/// Parses the scenario, loads its road network and builds the runner. The file
/// name given to sim is the path as the user wrote it, so sim's
/// `file:line:column` locations can be opened from the terminal.
fn load(file: &Path, settings: &StepArgs) -> Result<sim::Runner, LoadError> {
    let (scenario, network) = load_parts(file, settings)?;
    sim::Runner::new(scenario, network, settings.step).map_err(|e| LoadError::Other(e.into()))
}

/// The parsed scenario and its road network, before they become a runner
/// (`--live` needs the entities' kinds and the network's mesh first).
fn load_parts(
    file: &Path,
    settings: &StepArgs,
) -> Result<(sim::Scenario, Option<road::Network>), LoadError> {
    let steps = settings.max_time / settings.step;
    // Checked here because run_to_end's own guard would otherwise end an
    // over-long run early as if it had reached --max-time.
    if settings.step.is_finite() && settings.step > 0.0 && steps > sim::MAX_STEPS as f64 {
        return Err(LoadError::Other(anyhow::anyhow!(
            "--max-time {} s at --step {} s needs {steps:.0} steps, more than the runner's {} allowed",
            settings.max_time,
            settings.step,
            sim::MAX_STEPS
        )));
    }
    let text = read_text(file).map_err(LoadError::Other)?;
    let resolver = FolderResolver::for_scenario(file);
    let name = file.display().to_string();
    let scenario = sim::Scenario::parse(&text, &name, &resolver).map_err(|e| {
        if is_catalog_file(&e) {
            LoadError::Catalog(Box::new(e))
        } else {
            LoadError::Other(e.into())
        }
    })?;
    let network: Option<road::Network> =
        sim::load_network(&scenario, &resolver).map_err(|e| LoadError::Other(e.into()))?;
    Ok((scenario, network))
}

/// sim refuses a catalog file given as a scenario with its own error variant;
/// `scenario test` skips those so that catalog folders beside the scenarios are
/// not counted as broken scenarios.
fn is_catalog_file(error: &sim::Error) -> bool {
    matches!(error, sim::Error::CatalogFile { .. })
}

/// The end reason as the JSON report spells it.
fn end_reason_name(reason: Option<sim::EndReason>) -> &'static str {
    match reason {
        Some(sim::EndReason::StopTrigger) => "stop_trigger",
        Some(sim::EndReason::StoryboardComplete) => "storyboard_complete",
        Some(sim::EndReason::MaxTime) => "max_time",
        None => "running",
    }
}

// ---------------------------------------------------------------- run

fn run_file(args: &RunArgs) -> Result<ExitCode> {
    let settings = &args.settings;
    let (scenario, network) = load_parts(&args.file, settings)?;
    // Connected (world, models, twins, road asset) before the first step, so a
    // server problem stops the run before it starts.
    let mut live = match &args.live.live {
        Some(world) => Some(Live::connect(
            &args.live,
            world,
            &scenario,
            network.as_ref(),
        )?),
        None => None,
    };
    let mut runner = sim::Runner::new(scenario, network, settings.step)?;
    runner.set_recording(args.record.is_some());
    let started = Instant::now();
    let progress = |time: f64| {
        if !args.quiet {
            eprintln!(
                "  t = {time:>9.2} s  ({:>3.0}% of --max-time {} s)",
                100.0 * time / settings.max_time,
                settings.max_time
            );
        }
    };
    let report = match &mut live {
        Some(live) => {
            let report = drive(&mut runner, settings, progress, |runner| {
                live.after_step(runner, started)
            })?;
            live.finish(&runner, &report)?;
            report
        }
        None => drive(&mut runner, settings, progress, |_| Ok(()))?,
    };
    let wall = started.elapsed();
    print_summary(&report, wall);

    // Outputs are written after the summary so a write failure still shows the verdict.
    let mut write_failed = false;
    if let Some(path) = &args.record {
        let csv = sim::record_csv(runner.record().unwrap_or_default());
        write_failed |= !write_output(path, &csv);
    }
    if let Some(path) = &args.report {
        let json = sim::report_json(std::slice::from_ref(&report));
        write_failed |= !write_output(path, &json);
    }
    Ok(if write_failed {
        ExitCode::from(EXIT_ERROR)
    } else if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Steps the runner to its end, calling `progress` with the simulated time each
/// time another tenth of `--max-time` has passed (the run's length is not known
/// before its stop trigger fires, so --max-time is the scale). Ends with
/// `run_to_end`, which sets the end reason exactly as a plain run would.
fn drive(
    runner: &mut sim::Runner,
    settings: &StepArgs,
    mut progress: impl FnMut(f64),
    mut after_step: impl FnMut(&sim::Runner) -> Result<()>,
) -> Result<sim::Report> {
    let tenth = settings.max_time / 10.0;
    let mut next_mark = tenth;
    // The same end test as sim's run_to_end, so stepping here changes nothing.
    while runner.end_reason().is_none() && runner.time() + settings.step * 0.5 <= settings.max_time
    {
        runner.step()?;
        after_step(runner)?;
        if runner.time() + settings.step * 0.5 >= next_mark {
            progress(runner.time());
            while next_mark <= runner.time() + settings.step * 0.5 {
                next_mark += tenth;
            }
        }
        if let Some(rows) = runner.record()
            && rows.len() > RECORD_ROWS_MAX
        {
            bail!(
                "the --record trajectory passed {RECORD_ROWS_MAX} rows at {:.3} s; use a larger --step or a shorter --max-time",
                runner.time()
            );
        }
    }
    Ok(runner.run_to_end(settings.max_time)?)
}

fn print_summary(report: &sim::Report, wall: Duration) {
    let wall_s = wall.as_secs_f64();
    let verdict = if report.passed() { "PASS" } else { "FAIL" };
    println!("scenario: {}", report.scenario);
    if !report.description.is_empty() {
        println!("description: {}", report.description);
    }
    let speed = if wall_s > 0.0 {
        format!(", {:.0}x real time", report.time_s / wall_s)
    } else {
        String::new()
    };
    println!(
        "ended: {} at {:.3} s simulated ({} steps of {} s) in {:.0} ms wall{speed}",
        end_reason_name(report.end_reason),
        report.time_s,
        report.steps,
        report.step_s,
        wall_s * 1000.0
    );
    if report.collisions.is_empty() {
        println!("collisions: none");
    } else {
        println!("collisions: {}", report.collisions.len());
        for c in report.collisions.iter().take(SUMMARY_LINES_MAX) {
            println!("  {:>9.3} s  {} and {}", c.time_s, c.a, c.b);
        }
        print_more(report.collisions.len());
    }
    let pairs: Vec<&sim::PairSummary> = report
        .pairs
        .iter()
        .filter(|p| p.min_time_headway_s.is_some() || p.min_time_to_collision_s.is_some())
        .collect();
    if pairs.is_empty() {
        println!("min headway / TTC: no entity followed another");
    } else {
        println!("min headway / TTC per pair:");
        let seconds = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} s"));
        for p in pairs.iter().take(SUMMARY_LINES_MAX) {
            println!(
                "  {} / {}: headway {}, TTC {}",
                p.a,
                p.b,
                seconds(p.min_time_headway_s),
                seconds(p.min_time_to_collision_s)
            );
        }
        print_more(pairs.len());
    }
    match report
        .entities
        .iter()
        .max_by(|a, b| a.max_deceleration.total_cmp(&b.max_deceleration))
    {
        Some(e) => println!(
            "max deceleration: {:.3} m/s² ({})",
            e.max_deceleration, e.name
        ),
        None => println!("max deceleration: no entities"),
    }
    match report.failure() {
        Some(why) => println!("result: {verdict}: {why}"),
        None => println!("result: {verdict}"),
    }
}

fn print_more(total: usize) {
    if total > SUMMARY_LINES_MAX {
        println!(
            "  ... and {} more (see --report)",
            total - SUMMARY_LINES_MAX
        );
    }
}

/// Writes an output file, printing (not returning) the error so every requested
/// output is attempted; returns whether it was written.
fn write_output(path: &Path, text: &str) -> bool {
    match std::fs::write(path, text) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            false
        }
    }
}

// ---------------------------------------------------------------- test

/// What became of one file in a `scenario test` run.
enum Outcome {
    /// It ran; the report says whether it passed.
    Ran(Box<sim::Report>),
    /// It could not be read, parsed, loaded or run.
    Error(String),
    /// It is a catalog file, not a scenario.
    Catalog,
}

struct Done {
    outcome: Outcome,
    wall: Duration,
}

fn test_dir(args: &TestArgs) -> Result<ExitCode> {
    let files = xosc_files(&args.dir)?;
    if files.is_empty() {
        // Zero scenarios is not a pass: a wrong path in CI would otherwise go green.
        bail!("{} holds no .xosc files", args.dir.display());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args
        .jobs
        .map_or(cores, usize::from)
        .clamp(1, JOBS_MAX)
        .min(files.len());
    let settings = &args.settings;
    let mut results: Vec<Option<Done>> = Vec::with_capacity(files.len());
    results.resize_with(files.len(), || None);

    let next = AtomicUsize::new(0);
    // Bounded to the worker count: a worker waits rather than queueing reports
    // faster than they are printed.
    let (sender, receiver) = mpsc::sync_channel::<(usize, Done)>(jobs);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (files, next) = (&files, &next);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(index) else { break };
                    let done = run_guarded(file, settings);
                    if sender.send((index, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Lines come out in sorted file order, each as soon as it and all before it are done.
        let mut printed = 0;
        for (index, done) in receiver {
            results[index] = Some(done);
            while let Some(Some(done)) = results.get(printed) {
                print_line(display_name(&args.dir, &files[printed]), done);
                printed += 1;
            }
        }
    });

    let mut reports = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for (file, done) in files.iter().zip(results) {
        match done.map(|d| d.outcome) {
            Some(Outcome::Ran(report)) => reports.push(*report),
            Some(Outcome::Error(message)) => errors.push((file.display().to_string(), message)),
            Some(Outcome::Catalog) => skipped.push(file.display().to_string()),
            // Only if a worker died without reporting; counted as an error, never a pass.
            None => errors.push((
                file.display().to_string(),
                "no result (worker stopped)".into(),
            )),
        }
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    let failed = reports.len() - passed;
    if !skipped.is_empty() {
        println!("skipped {} catalog file(s)", skipped.len());
    }
    println!("{passed} passed, {failed} failed, {} errors", errors.len());

    let mut write_failed = false;
    if let Some(path) = &args.json {
        write_failed |= !write_output(path, &json_report(&reports, &errors, &skipped));
    }
    if let Some(path) = &args.junit {
        let suite = format!("twinspace scenario test {}", args.dir.display());
        let xml = match junit_with_errors(&suite, &reports, &errors) {
            Some(xml) => xml,
            None => {
                eprintln!(
                    "warning: sim's JUnit output changed shape; {} parse error(s) are listed above but not in {}",
                    errors.len(),
                    path.display()
                );
                sim::junit_xml(&suite, &reports)
            }
        };
        write_failed |= !write_output(path, &xml);
    }
    Ok(if write_failed {
        ExitCode::from(EXIT_ERROR)
    } else if failed == 0 && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Runs one file, turning a panic inside the simulation into an error for that
/// file so the rest of the batch still runs and reports.
fn run_guarded(file: &Path, settings: &StepArgs) -> Done {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_one(file, settings)))
        .unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Error(format!("the runner panicked: {message}"))
        });
    Done {
        outcome,
        wall: started.elapsed(),
    }
}

fn run_one(file: &Path, settings: &StepArgs) -> Outcome {
    let mut runner = match load(file, settings) {
        Ok(runner) => runner,
        Err(LoadError::Catalog(_)) => return Outcome::Catalog,
        Err(LoadError::Other(e)) => return Outcome::Error(format!("{e:#}")),
    };
    match runner.run_to_end(settings.max_time) {
        Ok(report) => Outcome::Ran(Box::new(report)),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

fn display_name(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir).unwrap_or(file).display().to_string()
}

fn print_line(name: String, done: &Done) {
    let wall_ms = done.wall.as_secs_f64() * 1000.0;
    match &done.outcome {
        Outcome::Ran(report) => {
            let verdict = if report.passed() { "PASS " } else { "FAIL " };
            let why = report
                .failure()
                .map_or(String::new(), |why| format!("  ({why})"));
            println!(
                "{verdict} {name}  {}  {:.3} s  {wall_ms:.0} ms{why}",
                end_reason_name(report.end_reason),
                report.time_s
            );
        }
        Outcome::Error(message) => println!("ERROR {name}  -  -  {wall_ms:.0} ms  {message}"),
        Outcome::Catalog => println!("SKIP  {name}  (catalog file, not a scenario)"),
    }
}

/// Every `.xosc` file under `dir`, sorted. Symbolic links to folders are not
/// followed, so a link cycle cannot make the walk endless.
fn xosc_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((folder, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read the folder {}", folder.display()))?;
        for entry in entries {
            let entry =
                entry.with_context(|| format!("cannot read the folder {}", folder.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot inspect {}", path.display()))?;
            if kind.is_dir() {
                if depth + 1 > FOLDER_DEPTH_MAX {
                    bail!(
                        "{} is nested more than {FOLDER_DEPTH_MAX} folders deep",
                        path.display()
                    );
                }
                stack.push((path, depth + 1));
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xosc"))
                && (kind.is_file() || path.is_file())
            {
                files.push(path);
                if files.len() > SCENARIO_FILES_MAX {
                    bail!(
                        "{} holds more than {SCENARIO_FILES_MAX} .xosc files",
                        dir.display()
                    );
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// sim's JSON report of the scenarios that ran, plus what sim's writer has no
/// place for: the files that could not run (`errors`, with their messages) and
/// the catalog files skipped.
fn json_report(reports: &[sim::Report], errors: &[(String, String)], skipped: &[String]) -> String {
    let text = sim::report_json(reports);
    let Ok(Value::Object(mut document)) = serde_json::from_str::<Value>(&text) else {
        // sim's writer falls back to an error object of its own; keep it as it is.
        return text;
    };
    document.insert("errors".into(), json!(errors.len()));
    document.insert(
        "error_scenarios".into(),
        Value::Array(
            errors
                .iter()
                .map(|(scenario, error)| json!({ "scenario": scenario, "error": error }))
                .collect(),
        ),
    );
    document.insert("skipped_catalogs".into(), json!(skipped));
    serde_json::to_string_pretty(&Value::Object(document)).unwrap_or(text)
}

/// sim's JUnit XML with one `<testcase>` carrying an `<error>` per file that
/// could not run, and the suite's `tests` and `errors` counts adjusted. sim's
/// writer takes only reports; this edits its output, and returns None if that
/// output no longer has the shape expected (the caller then says so).
fn junit_with_errors(
    suite: &str,
    reports: &[sim::Report],
    errors: &[(String, String)],
) -> Option<String> {
    let xml = sim::junit_xml(suite, reports);
    if errors.is_empty() {
        return Some(xml);
    }
    let start = xml.find("<testsuite ")?;
    let end = start + xml[start..].find('>')?;
    let header = &xml[start..end];
    let tests = format!(" tests=\"{}\"", reports.len());
    let no_errors = " errors=\"0\"";
    if !header.contains(&tests) || !header.contains(no_errors) {
        return None;
    }
    let header = header
        .replacen(
            &tests,
            &format!(" tests=\"{}\"", reports.len() + errors.len()),
            1,
        )
        .replacen(no_errors, &format!(" errors=\"{}\"", errors.len()), 1);
    let close = xml.rfind("</testsuite>")?;
    if close < end {
        return None;
    }
    let mut cases = String::new();
    for (scenario, message) in errors {
        cases.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"0.000\">\n    <error message=\"{}\"/>\n  </testcase>\n",
            xml_escape(suite),
            xml_escape(scenario),
            xml_escape(message)
        ));
    }
    Some(format!(
        "{}{header}{}{cases}{}",
        &xml[..start],
        &xml[end..close],
        &xml[close..]
    ))
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids other control characters; newlines in an attribute
            // would be normalised to spaces by readers anyway.
            c if c.is_control() && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- live

/// Fastest `--speed`: simulated seconds per wall-clock second.
const SPEED_MAX: f64 = 100_000.0;
/// Most twin updates per wall-clock second `--frame-rate` may ask for.
const FRAME_RATE_MAX: f64 = 60.0;
/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most vertices of the road mesh sent as the world's road asset (about 25 MB
/// of GLB): enough for a city district at 1 m cross-sections.
const ROAD_VERTICES_MAX: usize = 1_000_000;
/// Longest request head the road GLB server reads before answering.
const REQUEST_HEAD_MAX: u64 = 8192;
/// Twin id of the road network.
const ROAD_TWIN: &str = "road-network";
/// The base model of every scenario entity twin.
const ENTITY_MODEL: &str = "dtmi:twinspace:scenario:Entity;1";
/// Entity twin models by kind (they extend [`ENTITY_MODEL`]).
const VEHICLE_MODEL: &str = "dtmi:twinspace:scenario:Vehicle;1";
const PEDESTRIAN_MODEL: &str = "dtmi:twinspace:scenario:Pedestrian;1";
const MISC_OBJECT_MODEL: &str = "dtmi:twinspace:scenario:MiscObject;1";
/// The road network twin's model.
const ROAD_MODEL: &str = "dtmi:twinspace:scenario:RoadNetwork;1";

/// Streaming a run into a world of a running server.
#[derive(Args, Clone, Debug)]
pub(crate) struct LiveArgs {
    /// Stream the run into this world of a running server (created when missing):
    /// one twin per entity, moved as the run goes, and a road-network twin whose
    /// asset is the road mesh (GLB).
    #[arg(long, value_name = "WORLD")]
    live: Option<String>,
    /// The server's base URL (with --live).
    #[arg(
        long,
        value_name = "URL",
        env = "TWINSPACE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// A bearer token that may edit WORLD, or an admin token to create it (with --live).
    #[arg(long, env = "TWINSPACE_TOKEN")]
    token: Option<String>,
    /// Simulated seconds per wall-clock second while streaming (1 = real time).
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Twin updates per wall-clock second while streaming.
    #[arg(long, default_value_t = 10.0, value_parser = parse_frame_rate)]
    frame_rate: f64,
    /// The road-network twin's asset (an http(s) URL, or asset:<id> of the web
    /// client's glb folder) that serves the road GLB. Without it the run serves
    /// the GLB itself at --road-serve while it streams.
    #[arg(long, value_name = "URL")]
    road_asset: Option<String>,
    /// Where the run serves the road GLB when no --road-asset is given.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    road_serve: std::net::SocketAddr,
    /// Also write the road network's GLB to this file (with --live).
    #[arg(long, value_name = "OUT.glb")]
    road_glb: Option<PathBuf>,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !(value.is_finite() && value > 0.0 && value <= SPEED_MAX) {
        return Err(format!(
            "must be more than 0 and at most {SPEED_MAX} simulated seconds per second"
        ));
    }
    Ok(value)
}

fn parse_frame_rate(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !(value.is_finite() && value > 0.0 && value <= FRAME_RATE_MAX) {
        return Err(format!(
            "must be more than 0 and at most {FRAME_RATE_MAX} updates per second"
        ));
    }
    Ok(value)
}

/// Percent-encodes text for one URL path segment (twin and model ids hold `:`,
/// `;` and whatever an entity name holds).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The server's REST API: JSON requests with a bearer token.
struct Http {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Http {
    /// Sends a request; returns the status and the JSON answer (`null` when empty).
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &self.auth)
                .call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Authorization", &self.auth)
                .send_json(b),
            _ => bail!("unsupported request {method} {path}"),
        }
        .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .with_context(|| format!("cannot read the answer of {method} {url}"))?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Like [`Http::send`], but a status of 400 or more is an error naming the server's detail.
    fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, value) = self.send(method, path, body)?;
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

/// The DTDL models of the scenario twins, base first (the others extend it).
fn scenario_models() -> Vec<Value> {
    let property = |name: &str, schema: &str| json!({ "@type": "Property", "name": name, "schema": schema, "writable": true });
    let entity = json!({
        "@id": ENTITY_MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "displayName": "Scenario entity",
        "description": "An entity of an OpenSCENARIO run streamed by `twinspace scenario run --live`; $placement is the bottom centre of its bounding box, scaled to the box.",
        "contents": [
            property("scenario", "string"),
            property("category", "string"),
            property("definition", "string"),
            property("length", "double"),
            property("width", "double"),
            property("height", "double"),
            property("simTime", "double"),
            property("x", "double"),
            property("y", "double"),
            property("z", "double"),
            property("heading", "double"),
            property("speed", "double"),
            property("acceleration", "double"),
            property("road", "string"),
            property("lane", "integer"),
            property("s", "double"),
        ]
    });
    let kind = |id: &str, name: &str| {
        json!({
            "@id": id, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
            "displayName": name, "extends": ENTITY_MODEL
        })
    };
    let road = json!({
        "@id": ROAD_MODEL, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "displayName": "Road network",
        "description": "The OpenDRIVE road network of a scenario run; its asset is the road surface and markings.",
        "contents": [
            property("scenario", "string"),
            property("file", "string"),
            property("roads", "integer"),
            property("simTime", "double"),
            property("endReason", "string"),
        ]
    });
    vec![
        entity,
        kind(VEHICLE_MODEL, "Scenario vehicle"),
        kind(PEDESTRIAN_MODEL, "Scenario pedestrian"),
        kind(MISC_OBJECT_MODEL, "Scenario object"),
        road,
    ]
}

/// Rotation quaternion [x, y, z, w] of heading (about z), then pitch (about y),
/// then roll (about x): the OpenSCENARIO orientation in the world's z-up frame.
fn quaternion(heading: f64, pitch: f64, roll: f64) -> [f64; 4] {
    let (sh, ch) = (heading / 2.0).sin_cos();
    let (sp, cp) = (pitch / 2.0).sin_cos();
    let (sr, cr) = (roll / 2.0).sin_cos();
    [
        sr * cp * ch - cr * sp * sh,
        cr * sp * ch + sr * cp * sh,
        cr * cp * sh - sr * sp * ch,
        cr * cp * ch + sr * sp * sh,
    ]
}

/// One entity's twin.
struct LiveTwin {
    /// Twin id, percent-encoded for the URL.
    path: String,
    model: &'static str,
    scenario: String,
    category: String,
    definition: String,
    /// Bounding box centre relative to the reference point, vehicle frame, m.
    center: [f64; 3],
    /// Bounding box length, width, height, m.
    size: [f64; 3],
}

impl LiveTwin {
    /// Where the twin is: the bottom centre of the bounding box (the web
    /// client's default shape is a unit box standing on its origin), turned by
    /// the heading; the box is placed by heading only, pitch and roll turn it.
    fn placement(&self, e: &sim::EntityState) -> Value {
        let (sin, cos) = e.heading.sin_cos();
        let [cx, cy, cz] = self.center;
        let position = [
            e.x + cx * cos - cy * sin,
            e.y + cx * sin + cy * cos,
            e.z + cz - self.size[2] / 2.0,
        ];
        json!({
            "position": position,
            "rotation": quaternion(e.heading, e.pitch, e.roll),
            "scale": self.size,
        })
    }

    /// The properties that change as the run goes.
    fn motion(e: &sim::EntityState, time: f64) -> Vec<(&'static str, Value)> {
        let mut values = vec![
            ("simTime", json!(time)),
            ("x", json!(e.x)),
            ("y", json!(e.y)),
            ("z", json!(e.z)),
            ("heading", json!(e.heading)),
            ("speed", json!(e.speed)),
            ("acceleration", json!(e.acceleration)),
        ];
        if let Some(lane) = &e.lane {
            values.push(("road", json!(lane.road)));
            values.push(("lane", json!(lane.lane)));
            values.push(("s", json!(lane.s)));
        }
        values
    }
}

/// A run streaming into a world.
struct Live {
    http: Http,
    /// `/worlds/<world>`, encoded.
    world: String,
    world_name: String,
    /// By runner entity index (the runner keeps the scenario's order).
    twins: Vec<LiveTwin>,
    speed: f64,
    /// Simulated seconds between two frames: --speed / --frame-rate.
    frame_interval_s: f64,
    next_frame_s: f64,
    created: bool,
    frames: u64,
    road: bool,
}

impl Live {
    /// Makes sure the world and the models exist and puts the road-network twin
    /// with its asset; the entity twins follow with the first step.
    fn connect(
        args: &LiveArgs,
        world: &str,
        scenario: &sim::Scenario,
        network: Option<&road::Network>,
    ) -> Result<Live> {
        let Some(token) = &args.token else {
            bail!("--live needs --token (or TWINSPACE_TOKEN): a token that may edit the world");
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .new_agent();
        let http = Http {
            agent,
            base: args.server.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {token}"),
        };
        let world_path = format!("/worlds/{}", path_segment(world));
        // A world that does not answer is created (needs an admin token).
        let (status, _) = http.send("GET", &format!("{world_path}/models"), None)?;
        if status == 404 {
            http.expect("POST", "/worlds", Some(&json!({ "id": world })))
                .with_context(|| format!("world `{world}` does not exist and cannot be created"))?;
        } else if status >= 400 {
            http.expect("GET", &format!("{world_path}/models"), None)?;
        }
        let mut missing = Vec::new();
        for model in scenario_models() {
            let id = model.get("@id").and_then(Value::as_str).unwrap_or_default();
            let path = format!("{world_path}/models/{}", path_segment(id));
            let (status, answer) = http.send("GET", &path, None)?;
            match status {
                200 => {}
                404 => missing.push(model),
                _ => bail!("GET {path}: {status}: {answer}"),
            }
        }
        if !missing.is_empty() {
            http.expect(
                "POST",
                &format!("{world_path}/models"),
                Some(&Value::Array(missing)),
            )?;
        }

        let twins = scenario
            .entities
            .iter()
            .map(|entity| {
                let model = match entity.kind {
                    sim::EntityKind::Vehicle => VEHICLE_MODEL,
                    sim::EntityKind::Pedestrian => PEDESTRIAN_MODEL,
                    sim::EntityKind::MiscObject => MISC_OBJECT_MODEL,
                };
                let b = &entity.bounding_box;
                LiveTwin {
                    path: format!("{world_path}/digitaltwins/{}", path_segment(&entity.name)),
                    model,
                    scenario: scenario.file.clone(),
                    category: entity.category.clone(),
                    definition: entity.model.clone(),
                    center: b.center,
                    // A zero scale would make the placement degenerate.
                    size: [b.length.max(0.01), b.width.max(0.01), b.height.max(0.01)],
                }
            })
            .collect();

        let road = match network {
            Some(network) => {
                let asset = road_asset(args, network)?;
                let body = json!({
                    "$metadata": { "$model": ROAD_MODEL },
                    "scenario": scenario.file,
                    "file": scenario.road_network.clone().unwrap_or_default(),
                    "roads": network.roads().count(),
                    "simTime": 0.0,
                    "$placement": { "position": [0.0, 0.0, 0.0], "asset": asset },
                });
                http.expect(
                    "PUT",
                    &format!("{world_path}/digitaltwins/{}", path_segment(ROAD_TWIN)),
                    Some(&body),
                )?;
                eprintln!(
                    "live: road network in world `{world}` as twin `{ROAD_TWIN}`, asset {asset}"
                );
                true
            }
            None => false,
        };
        Ok(Live {
            http,
            world: world_path,
            world_name: world.to_owned(),
            twins,
            speed: args.speed,
            frame_interval_s: args.speed / args.frame_rate,
            next_frame_s: 0.0,
            created: false,
            frames: 0,
            road,
        })
    }

    /// After each step: on the first one, puts every entity twin; then, when a
    /// frame is due, waits for the wall clock to catch up with the simulation
    /// (at --speed) and sends the entities' poses.
    fn after_step(&mut self, runner: &sim::Runner, started: Instant) -> Result<()> {
        let time = runner.time();
        if !self.created {
            for (twin, state) in self.twins.iter().zip(runner.entities()) {
                let mut body = json!({
                    "$metadata": { "$model": twin.model },
                    "scenario": twin.scenario,
                    "category": twin.category,
                    "definition": twin.definition,
                    "length": twin.size[0],
                    "width": twin.size[1],
                    "height": twin.size[2],
                    "$placement": twin.placement(state),
                });
                for (name, value) in LiveTwin::motion(state, time) {
                    body[name] = value;
                }
                self.http.expect("PUT", &twin.path, Some(&body))?;
            }
            self.created = true;
            self.frames += 1;
            self.next_frame_s = time + self.frame_interval_s;
            return Ok(());
        }
        if time + 1e-9 < self.next_frame_s {
            return Ok(());
        }
        let due = Duration::from_secs_f64(time / self.speed);
        let elapsed = started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
        self.send_frame(runner)?;
        while self.next_frame_s <= time + 1e-9 {
            self.next_frame_s += self.frame_interval_s;
        }
        Ok(())
    }

    fn send_frame(&mut self, runner: &sim::Runner) -> Result<()> {
        let time = runner.time();
        for (twin, state) in self.twins.iter().zip(runner.entities()) {
            let placement = twin.placement(state);
            let mut patch = vec![
                json!({ "op": "replace", "path": "/$placement/position", "value": placement["position"] }),
                json!({ "op": "replace", "path": "/$placement/rotation", "value": placement["rotation"] }),
            ];
            for (name, value) in LiveTwin::motion(state, time) {
                patch.push(json!({ "op": "add", "path": format!("/{name}"), "value": value }));
            }
            self.http
                .expect("PATCH", &twin.path, Some(&Value::Array(patch)))?;
        }
        self.frames += 1;
        Ok(())
    }

    /// The final poses and the road twin's end reason.
    fn finish(&mut self, runner: &sim::Runner, report: &sim::Report) -> Result<()> {
        if !self.created {
            self.after_step(runner, Instant::now())?;
        }
        self.send_frame(runner)?;
        if self.road {
            let patch = json!([
                { "op": "add", "path": "/simTime", "value": runner.time() },
                { "op": "add", "path": "/endReason", "value": end_reason_name(report.end_reason) },
            ]);
            self.http.expect(
                "PATCH",
                &format!("{}/digitaltwins/{}", self.world, path_segment(ROAD_TWIN)),
                Some(&patch),
            )?;
        }
        eprintln!(
            "live: {} twins moved in {} frames in world `{}`",
            self.twins.len(),
            self.frames,
            self.world_name
        );
        Ok(())
    }
}

/// The road-network twin's asset: --road-asset, or the URL of a small HTTP
/// server of this run that answers `GET /road.glb` with the mesh (with CORS, so
/// the web client on the server's origin may fetch it) until the run exits.
fn road_asset(args: &LiveArgs, network: &road::Network) -> Result<String> {
    let mesh = network.mesh(&road::MeshOptions {
        max_vertices: ROAD_VERTICES_MAX,
        ..road::MeshOptions::default()
    });
    let glb = mesh.to_glb();
    if let Some(path) = &args.road_glb {
        std::fs::write(path, &glb).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(asset) = &args.road_asset {
        return Ok(asset.clone());
    }
    let listener = std::net::TcpListener::bind(args.road_serve)
        .with_context(|| format!("cannot serve the road GLB on {}", args.road_serve))?;
    let address = listener.local_addr()?;
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        address.ip().to_string()
    };
    std::thread::spawn(move || serve_glb(&listener, &glb));
    Ok(format!("http://{host}:{}/road.glb", address.port()))
}

/// Answers every connection with the GLB (`GET /road.glb`) or 404; one at a
/// time, since only viewers of this run ask. Ends with the process.
fn serve_glb(listener: &std::net::TcpListener, glb: &[u8]) {
    use std::io::{BufRead, BufReader, Write};
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
        let Ok(reader) = stream.try_clone() else {
            continue;
        };
        let mut reader = BufReader::new(reader.take(REQUEST_HEAD_MAX));
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            continue;
        }
        // Drain the head up to its blank line so the client sees a clean answer.
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let found = (method == "GET" || method == "HEAD") && path == "/road.glb";
        let head = if found {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: model/gltf-binary\r\nContent-Length: {}\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
                glb.len()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n".to_string()
        };
        let _ = stream.write_all(head.as_bytes());
        if found && method == "GET" {
            let _ = stream.write_all(glb);
        }
    }
}
