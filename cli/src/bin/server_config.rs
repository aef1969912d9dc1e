//! `lukseun-server-config nats|redis`: prints the nats-server configuration or the Redis
//! `user` directives of shared::grants, with the passwords taken from the environment
//! (`NATS_PASSWORD_<SERVICE>`, `REDIS_PASSWORD_<SERVICE>`, `REDIS_PASSWORD_DEFAULT`).
//! `./lukseun up` writes its servers' configuration with it.

#![forbid(unsafe_code)]

use shared::grants;

fn password(server: &str, service: &str) -> String {
    let name = grants::password_env(server, service);
    match std::env::var(&name) {
        Ok(value) if !value.is_empty() && !value.contains(['"', '\\', ' ', '\n']) => value,
        _ => fail(&format!(
            "{name} is not set (or holds quotes, spaces or backslashes)"
        )),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("lukseun-server-config: {message}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["nats"] => grants::nats_server_config(|s| grants::nats_quoted(&password("nats", s))),
        ["redis"] => {
            let default = std::env::var(grants::REDIS_DEFAULT_PASSWORD_ENV).ok();
            grants::redis_config(|s| password("redis", s), default.as_deref())
        }
        _ => fail("usage: lukseun-server-config nats|redis (passwords from the environment)"),
    };
    print!("{text}");
}
