//! lukseun-migrate: flags, logger, then `migrate::run`; the report on stdout.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use migrate::settings::SPEC;
use shared::flags::Flags;

fn main() -> ExitCode {
    let flags = match Flags::load(&SPEC) {
        Ok(flags) => flags,
        Err(e) => return e.report(&SPEC),
    };
    shared::log::init(SPEC.service, flags.log_level());
    let options = match migrate::settings::options(&flags) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lukseun-migrate: {e}");
            return ExitCode::from(2);
        }
    };
    match migrate::run(&options) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lukseun-migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
