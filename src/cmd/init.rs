//! `init [DIR]`: a new status repository.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Global, InitArgs, InitLang};
use crate::config::Lang;
use crate::diagnostics::display_path;
use crate::ops::init;

pub fn run(global: &Global, args: &InitArgs) -> Result<ExitCode> {
    let now = super::now(global)?;
    let lang = match args.lang {
        InitLang::En => Lang::En,
        InitLang::De => Lang::De,
    };
    let written = init::init(&args.dir, lang, now)?;
    for p in &written {
        println!("  {}", display_path(p));
    }
    let dir = display_path(&args.dir);
    let cd = if args.dir.as_os_str() == "." {
        String::new()
    } else {
        format!("cd {dir} && ")
    };
    println!(
        "created a status repository in {dir}/ ({} files); next: {cd}statuscast serve, then edit statuscast.yaml",
        written.len()
    );
    Ok(ExitCode::SUCCESS)
}
