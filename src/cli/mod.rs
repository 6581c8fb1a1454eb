//! The native command line: no subcommand opens the app window; `pe …` prints numbers.

pub mod model;
pub mod pe;
pub mod probe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "poslens",
    version,
    about = "PosLens: positional encodings in transformers, live"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Initial state as a URL hash, e.g. "view=sinusoidal&len=512" (window mode only).
    #[arg(long, default_value = "")]
    state: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the app in a native window (the default).
    Gui,
    /// Print positional-encoding numbers as JSON or CSV.
    Pe(Box<pe::PeArgs>),
    /// Train a tiny model (or --all shipped ones) on the CPU and write weights + metadata.
    Train(Box<model::TrainArgs>),
    /// Accuracy of a trained model at several lengths, as JSON (same numbers as the Model lab).
    Eval(Box<model::EvalArgs>),
    /// What each layer of a trained model knows about absolute position: a linear probe per
    /// layer, fitted at the training length, scored at longer lengths (R², mean abs. error).
    Probe(Box<probe::ProbeArgs>),
    /// Export a view's data headlessly, exactly as the app's export buttons do.
    Export {
        /// The view's state as a URL hash, e.g. "view=attention&len=512&scheme=alibi".
        #[arg(long)]
        state: String,
        /// Output file; the extension picks the format: .png (heatmap views), .svg (every view: vector plots, maps embedded), .csv or .json.
        #[arg(long)]
        out: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Gui) => run_gui(&cli.state),
        Some(Command::Export { state, out }) => match export(&state, &out) {
            Ok(notes) => {
                for n in notes {
                    eprintln!("note: {n}");
                }
                eprintln!("wrote {out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::Train(args)) => print_or_fail(model::train(&args)),
        Some(Command::Eval(args)) => print_or_fail(model::eval(&args)),
        Some(Command::Probe(args)) => print_or_fail(probe::run(&args)),
        Some(Command::Pe(args)) => print_or_fail(pe::run(&args)),
    }
}

/// A command line parsed as `poslens` parses it (for tests and fuzzing: no window, no files).
pub enum Parsed {
    Pe(Box<pe::PeArgs>),
    Eval(Box<model::EvalArgs>),
    Other,
}

/// Parse `argv` (without the program name); clap's message on failure.
pub fn parse_command_line(argv: &[String]) -> Result<Parsed, String> {
    let cli = Cli::try_parse_from(std::iter::once("poslens".to_string()).chain(argv.iter().cloned()))
        .map_err(|e| e.to_string())?;
    Ok(match cli.command {
        Some(Command::Pe(a)) => Parsed::Pe(a),
        Some(Command::Eval(a)) => Parsed::Eval(a),
        _ => Parsed::Other,
    })
}

/// Run a `poslens pe …` command line (without the program name) in-process: its stdout text,
/// or the message it would exit 2 with.
pub fn run_pe_command_line(argv: &[String]) -> Result<String, String> {
    match parse_command_line(argv)? {
        Parsed::Pe(a) => pe::run(&a).map_err(|e| e.to_string()),
        _ => Err("not a pe command line".into()),
    }
}

/// Print a subcommand's output, or its one-line error and exit with code 2.
fn print_or_fail<E: std::fmt::Display>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `poslens export`: returns the notes about clamped values in the state.
fn export(state: &str, out: &str) -> Result<Vec<String>, String> {
    let format = crate::export::Format::from_path(out).map_err(|e| e.to_string())?;
    let (state, notes) = crate::url_state::from_hash(state);
    let bytes = crate::url_state::export_active(&state)
        .and_then(|e| e.bytes(format))
        .map_err(|e| e.to_string())?;
    std::fs::write(out, bytes).map_err(|e| format!("could not write {out}: {e}"))?;
    Ok(notes)
}

fn run_gui(state: &str) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("PosLens")
            .with_inner_size([1280.0, 820.0]),
        ..Default::default()
    };
    let state = state.to_owned();
    match eframe::run_native(
        "PosLens",
        options,
        Box::new(move |cc| Ok(Box::new(crate::app::PosLensApp::new(cc, &state)))),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: could not open a window: {e}");
            ExitCode::FAILURE
        }
    }
}
