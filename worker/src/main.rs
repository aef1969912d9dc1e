//! The worker binary: options, then `worker::run`.

#![forbid(unsafe_code)]

fn main() {
    let config = shared::flags::Flags::load(&worker::SPEC);
    if let Err(e) = worker::run(&config) {
        shared::error!("worker failed", error = e);
        std::process::exit(1);
    }
}
