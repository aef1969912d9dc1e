//! Reads a Dockerfile into stages and instructions: enough to check targets, copied paths,
//! users, signals and exposed ports without a Docker engine.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Upper case: `COPY`, `EXPOSE` ...
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined with a space.
    pub args: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub base: String,
    /// The `AS` name, which `docker build --target` selects.
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// `COPY [--from=stage] [--chown=u:g] src... dest`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyInstruction {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub sources: Vec<String>,
    pub dest: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DockerfileError {
    InstructionBeforeFrom(String),
    BadFrom(String),
    Unterminated,
    BadPort { stage: String, value: String },
    BadCopy(String),
    BadEntrypoint { stage: String, reason: String },
}

impl fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerfileError::InstructionBeforeFrom(i) => {
                write!(f, "{i} comes before the first FROM")
            }
            DockerfileError::BadFrom(a) => write!(f, "cannot read FROM {a:?}"),
            DockerfileError::Unterminated => write!(f, "the last line ends with a continuation"),
            DockerfileError::BadPort { stage, value } => {
                write!(f, "stage {stage}: EXPOSE {value:?} is not a port")
            }
            DockerfileError::BadCopy(a) => write!(f, "cannot read COPY {a:?}"),
            DockerfileError::BadEntrypoint { stage, reason } => {
                write!(f, "stage {stage}: ENTRYPOINT {reason}")
            }
        }
    }
}

/// Splits the text into stages. Comment lines are dropped, also inside continuations (as
/// Docker does); `ARG` before the first `FROM` is allowed and ignored.
pub fn parse(text: &str) -> Result<Vec<Stage>, DockerfileError> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head.trim_end());
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        add_instruction(&mut stages, logical.trim())?;
    }
    if !pending.trim().is_empty() {
        return Err(DockerfileError::Unterminated);
    }
    Ok(stages)
}

fn add_instruction(stages: &mut Vec<Stage>, logical: &str) -> Result<(), DockerfileError> {
    if logical.is_empty() {
        return Ok(());
    }
    let (keyword, args) = logical
        .split_once(char::is_whitespace)
        .unwrap_or((logical, ""));
    let keyword = keyword.to_ascii_uppercase();
    let args = args.trim().to_string();
    if keyword == "FROM" {
        let words: Vec<&str> = args.split_whitespace().collect();
        let stage = match words.as_slice() {
            [base] => Stage {
                base: base.to_string(),
                name: None,
                instructions: Vec::new(),
            },
            [base, as_word, name] if as_word.eq_ignore_ascii_case("as") => Stage {
                base: base.to_string(),
                name: Some(name.to_string()),
                instructions: Vec::new(),
            },
            _ => return Err(DockerfileError::BadFrom(args)),
        };
        stages.push(stage);
        return Ok(());
    }
    match stages.last_mut() {
        Some(stage) => {
            stage.instructions.push(Instruction { keyword, args });
            Ok(())
        }
        None if keyword == "ARG" => Ok(()),
        None => Err(DockerfileError::InstructionBeforeFrom(keyword)),
    }
}

impl Stage {
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.base.clone())
    }

    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
            .map(|i| i.args.as_str())
    }

    /// The last one wins, as in Docker.
    fn last<'a>(&'a self, keyword: &'a str) -> Option<&'a str> {
        self.all(keyword).last()
    }

    pub fn user(&self) -> Option<&str> {
        self.last("USER")
    }

    pub fn stop_signal(&self) -> Option<&str> {
        self.last("STOPSIGNAL")
    }

    /// Every port of every EXPOSE, in order (`8880`, `8880/tcp`).
    pub fn exposed_ports(&self) -> Result<Vec<u16>, DockerfileError> {
        let mut ports = Vec::new();
        for args in self.all("EXPOSE") {
            for word in args.split_whitespace() {
                let number = word.strip_suffix("/tcp").unwrap_or(word);
                let port = number.parse().map_err(|_| DockerfileError::BadPort {
                    stage: self.label(),
                    value: word.to_string(),
                })?;
                ports.push(port);
            }
        }
        Ok(ports)
    }

    /// `ENV KEY=VALUE` pairs (the form this project uses).
    pub fn env(&self) -> Vec<(String, String)> {
        self.all("ENV")
            .flat_map(|args| args.split_whitespace())
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    }

    /// The exec form (`["/gate", "--flag"]`); the shell form cannot run in a scratch image.
    pub fn entrypoint(&self) -> Result<Vec<String>, DockerfileError> {
        let bad = |reason: &str| DockerfileError::BadEntrypoint {
            stage: self.label(),
            reason: reason.to_string(),
        };
        let args = self.last("ENTRYPOINT").ok_or_else(|| bad("is missing"))?;
        serde_json::from_str(args)
            .map_err(|_| bad("must be the exec form (a JSON array): scratch has no shell"))
    }

    pub fn copies(&self) -> Result<Vec<CopyInstruction>, DockerfileError> {
        self.all("COPY").map(parse_copy).collect()
    }

    /// The text of every `RUN`, for checks on what the builder compiles.
    pub fn runs(&self) -> Vec<&str> {
        self.all("RUN").collect()
    }
}

fn parse_copy(args: &str) -> Result<CopyInstruction, DockerfileError> {
    let mut from = None;
    let mut chown = None;
    let mut paths = Vec::new();
    for word in args.split_whitespace() {
        if let Some(v) = word.strip_prefix("--from=") {
            from = Some(v.to_string());
        } else if let Some(v) = word.strip_prefix("--chown=") {
            chown = Some(v.to_string());
        } else if word.starts_with("--") {
            // Other flags (--chmod, --link) do not change what lands where.
        } else {
            paths.push(word.to_string());
        }
    }
    let dest = paths
        .pop()
        .ok_or_else(|| DockerfileError::BadCopy(args.into()))?;
    if paths.is_empty() {
        return Err(DockerfileError::BadCopy(args.into()));
    }
    Ok(CopyInstruction {
        from,
        chown,
        sources: paths,
        dest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# syntax=docker/dockerfile:1\nARG RUST=1\nFROM rust:1 AS build\nRUN apt-get update \\\n    # a comment inside a continuation\n    && make \\\n    -p gate\n\nfrom scratch as gate\nCOPY --from=build --chown=10001:10001 /out/gate /gate\nUSER 10001:10001\nEXPOSE 8880 8201/tcp\nEXPOSE 9104\nENV LUKSEUN_DIR=/game-config\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"/gate\", \"--one-shot\"]\n";

    #[test]
    fn reads_stages_and_their_instructions() {
        let stages = parse(SAMPLE).unwrap();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].name.as_deref(), Some("build"));
        assert_eq!(stages[0].runs(), vec!["apt-get update && make -p gate"]);
        let gate = &stages[1];
        assert_eq!(gate.base, "scratch");
        assert_eq!(gate.name.as_deref(), Some("gate"));
        assert_eq!(gate.user(), Some("10001:10001"));
        assert_eq!(gate.stop_signal(), Some("SIGTERM"));
        assert_eq!(gate.exposed_ports().unwrap(), vec![8880, 8201, 9104]);
        assert_eq!(
            gate.env(),
            vec![("LUKSEUN_DIR".to_string(), "/game-config".to_string())]
        );
        assert_eq!(gate.entrypoint().unwrap(), vec!["/gate", "--one-shot"]);
        let copies = gate.copies().unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].from.as_deref(), Some("build"));
        assert_eq!(copies[0].chown.as_deref(), Some("10001:10001"));
        assert_eq!(copies[0].sources, vec!["/out/gate"]);
        assert_eq!(copies[0].dest, "/gate");
    }

    #[test]
    fn an_instruction_before_from_is_an_error() {
        assert_eq!(
            parse("RUN true\nFROM scratch\n").unwrap_err(),
            DockerfileError::InstructionBeforeFrom("RUN".into())
        );
    }

    #[test]
    fn a_dangling_continuation_is_an_error() {
        assert_eq!(
            parse("FROM scratch\nRUN a \\\n").unwrap_err(),
            DockerfileError::Unterminated
        );
    }

    #[test]
    fn a_shell_form_entrypoint_is_an_error() {
        let stages = parse("FROM scratch AS x\nENTRYPOINT /x --flag\n").unwrap();
        assert!(matches!(
            stages[0].entrypoint(),
            Err(DockerfileError::BadEntrypoint { .. })
        ));
    }

    #[test]
    fn a_named_port_is_an_error() {
        let stages = parse("FROM scratch AS x\nEXPOSE http\n").unwrap();
        assert!(matches!(
            stages[0].exposed_ports(),
            Err(DockerfileError::BadPort { .. })
        ));
    }

    #[test]
    fn copy_needs_a_source_and_a_destination() {
        let stages = parse("FROM scratch AS x\nCOPY /only\n").unwrap();
        assert!(matches!(
            stages[0].copies(),
            Err(DockerfileError::BadCopy(_))
        ));
    }
}
