//! The weighted mix of calls virtual players make: `"get_all_resource:5,get_info_player:1"`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    entries: Vec<(String, u32)>,
    total: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub struct MixError(String);

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad --mix: {}", self.0)
    }
}

impl std::error::Error for MixError {}

impl Mix {
    pub fn parse(text: &str) -> Result<Mix, MixError> {
        let mut entries = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once(':') {
                Some((n, w)) => (
                    n,
                    w.parse::<u32>()
                        .map_err(|_| MixError(format!("weight of {n:?} is not a number")))?,
                ),
                None => (part, 1),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(MixError(format!("{name:?} is not a function name")));
            }
            if weight == 0 {
                continue;
            }
            if name == crate::play::NAME {
                let play = crate::play::FUNCTIONS.iter();
                entries.extend(play.map(|f| (f.to_string(), weight)));
            } else {
                entries.push((name.to_string(), weight));
            }
        }
        let total = entries.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Err(MixError("no function with a positive weight".into()));
        }
        Ok(Mix { entries, total })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The function for a uniform random number `r`.
    pub fn pick(&self, r: u64) -> &str {
        let mut point = (r % u64::from(self.total)) as u32;
        for (name, weight) in &self.entries {
            if point < *weight {
                return name;
            }
            point -= weight;
        }
        unreachable!("point is below the total weight")
    }
}

/// xorshift64*: cheap per-thread randomness for picking calls; not for anything secret.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_shape_the_picks() {
        let mix = Mix::parse("a:3, b:1 ,c:0").unwrap();
        let mut rng = Rng::new(7);
        let mut a = 0;
        for _ in 0..10_000 {
            match mix.pick(rng.next_u64()) {
                "a" => a += 1,
                "b" => {}
                other => panic!("picked {other}"),
            }
        }
        assert!((7000..8000).contains(&a), "a picked {a} times of 10000");
    }

    #[test]
    fn bad_mixes_are_refused() {
        assert!(Mix::parse("").is_err());
        assert!(Mix::parse("a:x").is_err());
        assert!(Mix::parse("a:0").is_err());
        assert!(Mix::parse("drop table;").is_err());
        assert_eq!(Mix::parse("a").unwrap().pick(99), "a");
    }
}
