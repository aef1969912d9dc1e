//! Tells a static executable from a dynamic one: a dynamic one names its loader in a
//! `PT_INTERP` program header, which a scratch image could not satisfy.

use std::fmt;

const PT_INTERP: u32 = 3;

#[derive(Debug, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    Not64BitLittleEndian,
    Truncated,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF file"),
            ElfError::Not64BitLittleEndian => write!(f, "not a 64-bit little-endian ELF file"),
            ElfError::Truncated => write!(f, "the program headers run past the end of the file"),
        }
    }
}

/// True when the executable needs no program interpreter (static or static-pie).
pub fn is_static(bytes: &[u8]) -> Result<bool, ElfError> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(ElfError::Not64BitLittleEndian);
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let program_headers = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes"));
    let entry_size = u16_at(0x36);
    let count = u16_at(0x38);
    for i in 0..count {
        let at = usize::try_from(program_headers)
            .ok()
            .and_then(|base| base.checked_add(i * entry_size))
            .filter(|at| at + 4 <= bytes.len())
            .ok_or(ElfError::Truncated)?;
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        if kind == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-bit header followed by program headers of the given types.
    fn elf_with(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        bytes[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        bytes[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for kind in types {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&kind.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn no_interpreter_is_static() {
        assert_eq!(is_static(&elf_with(&[1, 2, 1])), Ok(true));
    }

    #[test]
    fn an_interpreter_is_dynamic() {
        assert_eq!(is_static(&elf_with(&[6, PT_INTERP, 1])), Ok(false));
    }

    #[test]
    fn this_test_binary_is_dynamic() {
        // Test binaries are linked against the host's glibc, so they name a loader.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(is_static(&me), Ok(false));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(is_static(b"#!/bin/sh\necho hi\n"), Err(ElfError::NotElf));
        let mut elf32 = elf_with(&[]);
        elf32[4] = 1;
        assert_eq!(is_static(&elf32), Err(ElfError::Not64BitLittleEndian));
        let mut cut = elf_with(&[1, 1]);
        cut.truncate(64 + 56);
        assert_eq!(is_static(&cut), Err(ElfError::Truncated));
    }
}
