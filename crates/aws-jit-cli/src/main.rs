//! The `aws-jit` binary: parses the command line, wires the adapters (this is the one place
//! that chooses them), runs a command and maps its failure to an exit code.

/// `println!` for the program's output: when the reader has gone (`aws-jit audit | head`),
/// the rest is dropped quietly, as shell tools do, instead of panicking; the command's own
/// outcome decides the exit code.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same broken-pipe handling as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::emit(format_args!($($arg)*))
    };
}

mod cli;
mod commands;
mod context;
mod output;
mod settings;
mod settings_file;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Runtime failure (AWS, store): exit 1.
    Runtime(anyhow::Error),
    /// Invalid config or request: exit 3.
    Invalid(anyhow::Error),
    /// Not permitted: exit 4.
    Denied(anyhow::Error),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Runtime(_) => 1,
            Failure::Invalid(_) => 3,
            Failure::Denied(_) => 4,
        }
    }

    pub fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Runtime(e) | Failure::Invalid(e) | Failure::Denied(e) => e,
        }
    }
}

/// Lets `?` turn app errors into the right exit code.
impl From<aws_jit_app::AppError> for Failure {
    fn from(e: aws_jit_app::AppError) -> Self {
        use aws_jit_app::ErrorKind as K;
        match e.kind() {
            K::Invalid | K::NotFound | K::Conflict => Failure::Invalid(e.into()),
            K::Forbidden => Failure::Denied(e.into()),
            K::Busy | K::Upstream | K::Unavailable => Failure::Runtime(e.into()),
        }
    }
}

/// The error as one line: its context chain, each cause once (a cause that only repeats
/// what the line says already is left out), and an AWS error's own causes (the SDK's
/// dump) only with `-v`.
fn error_line(error: &anyhow::Error, verbose: bool) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        if !verbose && cause.is::<aws_jit_app::ports::ProviderError>() {
            break;
        }
    }
    line
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(path) = cli.settings.clone() {
        match settings_file::SettingsFile::load(&path) {
            Ok(file) => {
                file.apply(&mut cli, &matches);
                cli.file = file;
            }
            Err(e) => {
                eprintln!("error: {}", aws_jit_core::text::redact(&format!("{e:#}")));
                return ExitCode::from(2);
            }
        }
    }
    cli.resolved = match settings::Resolved::resolve(&cli.file, &settings::ProcessEnvironment) {
        Ok(resolved) => resolved,
        Err(e) => {
            eprintln!("error: {}", aws_jit_core::text::redact(&e.to_string()));
            return ExitCode::from(3);
        }
    };
    let serving = matches!(cli.command, cli::Command::Serve { .. });
    let verbose = cli.verbose;
    context::init_tracing(cli.verbose, cli.log_format, serving);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let line = error_line(failure.error(), verbose > 0);
            eprintln!("error: {}", aws_jit_core::text::redact(&line));
            ExitCode::from(failure.code())
        }
    }
}
