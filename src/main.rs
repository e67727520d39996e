use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = statuscast::cli::Cli::parse();
    match statuscast::cmd::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
