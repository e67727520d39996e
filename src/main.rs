use std::process::ExitCode;

use clap::Parser;

// Rendering thousands of pages on all cores allocates a lot of small strings; mimalloc does that
// faster than the system allocator (measured: see bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
