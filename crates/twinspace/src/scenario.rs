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
    sim::Runner::new(scenario, network, settings.step).map_err(|e| LoadError::Other(e.into()))
}

/// sim refuses a catalog file given as a scenario with this one error; `scenario
/// test` recognises it so that catalog folders beside the scenarios are not
/// counted as broken scenarios. (sim exposes no structured flag for it, so this
/// matches its message; a change there turns skips into errors, never into passes.)
fn is_catalog_file(error: &sim::Error) -> bool {
    matches!(error, sim::Error::Reference { message, .. } if message.starts_with("this is a catalog file"))
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
    let mut runner = load(&args.file, settings)?;
    runner.set_recording(args.record.is_some());
    let started = Instant::now();
    let report = drive(&mut runner, settings, |time| {
        if !args.quiet {
            eprintln!(
                "  t = {time:>9.2} s  ({:>3.0}% of --max-time {} s)",
                100.0 * time / settings.max_time,
                settings.max_time
            );
        }
    })?;
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
) -> Result<sim::Report> {
    let tenth = settings.max_time / 10.0;
    let mut next_mark = tenth;
    // The same end test as sim's run_to_end, so stepping here changes nothing.
    while runner.end_reason().is_none() && runner.time() + settings.step * 0.5 <= settings.max_time
    {
        runner.step()?;
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
