//! lukseun-migrate: options, then `migrate::run`; the report on stdout.

#![forbid(unsafe_code)]

fn main() {
    let config = shared::flags::Flags::load(&migrate::settings::SPEC);
    let options = match migrate::settings::options(&config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lukseun-migrate: {e}");
            std::process::exit(2);
        }
    };
    match migrate::run(&options) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("lukseun-migrate: {e}");
            std::process::exit(1);
        }
    }
}
