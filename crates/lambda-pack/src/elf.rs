//! ELF inspection: machine, and whether an executable is static.
//!
//! Static means no `PT_INTERP` and no `DT_NEEDED`. Rust musl binaries are
//! static-pie: they keep a `PT_DYNAMIC` (for self-relocation) without any
//! `DT_NEEDED`, which is allowed.

use object::Endianness;
use object::elf::{self, FileHeader64};
use object::read::elf::{Dyn as _, FileHeader as _, ProgramHeader as _};

use crate::Error;

// Raw header values (object's constants are typed newtypes).
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const EV_CURRENT: u8 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// The byte string that betrays a Nix store path baked into a binary.
pub const NIX_STORE: &[u8] = b"/nix/store/";

/// The machines Lambda runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// arm64 / Graviton (`EM_AARCH64`).
    Aarch64,
    /// x86_64 (`EM_X86_64`).
    X86_64,
}

impl Machine {
    /// Parses `aarch64` or `x86_64`.
    pub fn from_name(name: &str) -> Option<Machine> {
        match name {
            "aarch64" => Some(Machine::Aarch64),
            "x86_64" => Some(Machine::X86_64),
            _ => None,
        }
    }

    /// `aarch64` or `x86_64`.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Aarch64 => "aarch64",
            Machine::X86_64 => "x86_64",
        }
    }

    /// The ELF `e_machine` value.
    pub fn e_machine(self) -> u16 {
        match self {
            Machine::Aarch64 => elf::EM_AARCH64.0,
            Machine::X86_64 => elf::EM_X86_64.0,
        }
    }
}

/// A readable name for an `e_machine` value.
pub fn machine_name(e_machine: u16) -> String {
    match e_machine {
        v if v == elf::EM_AARCH64.0 => "aarch64".to_owned(),
        v if v == elf::EM_X86_64.0 => "x86_64".to_owned(),
        v if v == elf::EM_386.0 => "i386".to_owned(),
        v if v == elf::EM_ARM.0 => "arm".to_owned(),
        v if v == elf::EM_RISCV.0 => "riscv".to_owned(),
        v => format!("e_machine {v}"),
    }
}

/// What `check` needs to know about an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine`.
    pub machine: u16,
    /// The `PT_INTERP` path, if any.
    pub interpreter: Option<String>,
    /// How many `DT_NEEDED` entries the dynamic segment has.
    pub needed: usize,
    /// Whether there is a `PT_DYNAMIC` (true for static-pie too).
    pub has_dynamic: bool,
}

impl ElfInfo {
    /// No interpreter and no needed libraries.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed == 0
    }
}

/// Parses the headers of a 64-bit executable ELF (`ET_EXEC` or `ET_DYN`).
/// `what` names the input in errors.
pub fn inspect(data: &[u8], what: &str) -> Result<ElfInfo, Error> {
    let fail = |message: String| Error::Elf {
        what: what.to_owned(),
        message,
    };
    if data.len() < 5 || &data[..4] != b"\x7fELF" {
        return Err(fail("no ELF magic number".to_owned()));
    }
    if data[4] != ELFCLASS64 {
        return Err(fail("not a 64-bit ELF".to_owned()));
    }
    let header = FileHeader64::<Endianness>::parse(data).map_err(|e| fail(e.to_string()))?;
    let endian = header.endian().map_err(|e| fail(e.to_string()))?;
    let e_type = header.e_type(endian);
    if e_type != elf::ET_EXEC && e_type != elf::ET_DYN {
        return Err(fail(format!("not an executable (e_type {})", e_type.0)));
    }
    let mut info = ElfInfo {
        machine: header.e_machine(endian).0,
        interpreter: None,
        needed: 0,
        has_dynamic: false,
    };
    let headers = header
        .program_headers(endian, data)
        .map_err(|e| fail(e.to_string()))?;
    for ph in headers {
        if let Some(interp) = ph
            .interpreter(endian, data)
            .map_err(|e| fail(e.to_string()))?
        {
            info.interpreter = Some(String::from_utf8_lossy(interp).into_owned());
        }
        if let Some(dynamic) = ph.dynamic(endian, data).map_err(|e| fail(e.to_string()))? {
            info.has_dynamic = true;
            for entry in dynamic {
                let tag = entry.d_tag(endian);
                if tag == elf::DT_NULL {
                    break;
                }
                if tag == elf::DT_NEEDED {
                    info.needed += 1;
                }
            }
        }
    }
    Ok(info)
}

/// Whether `data` contains a `/nix/store/` path.
pub fn contains_nix_store(data: &[u8]) -> bool {
    data.windows(NIX_STORE.len()).any(|w| w == NIX_STORE)
}

/// Hand-made minimal ELF64 little-endian images, for tests here and in
/// other crates (no compiler needed): an ELF header, program headers, and
/// the interpreter string, dynamic entries and payload they point at.
#[derive(Debug, Clone)]
pub struct FakeElf {
    machine: u16,
    e_type: u16,
    interpreter: Option<String>,
    dynamic: Option<Vec<(u64, u64)>>,
    payload: Vec<u8>,
}

impl FakeElf {
    /// Like a Rust musl binary: `ET_DYN` with a `PT_DYNAMIC` but no `DT_NEEDED`.
    pub fn static_pie(machine: Machine) -> FakeElf {
        FakeElf {
            machine: machine.e_machine(),
            e_type: elf::ET_DYN.0,
            interpreter: None,
            // DT_FLAGS_1 = PIE, as musl's static-pie carries.
            dynamic: Some(vec![(elf::DT_FLAGS_1.0 as u64, 0x0800_0000)]),
            payload: b"fake static binary\0".to_vec(),
        }
    }

    /// A classic static `ET_EXEC` without any dynamic segment.
    pub fn static_exec(machine: Machine) -> FakeElf {
        FakeElf {
            e_type: elf::ET_EXEC.0,
            dynamic: None,
            ..FakeElf::static_pie(machine)
        }
    }

    /// Sets a raw `e_machine` value.
    pub fn with_raw_machine(mut self, e_machine: u16) -> FakeElf {
        self.machine = e_machine;
        self
    }

    /// Adds a `PT_INTERP` naming `path`.
    pub fn with_interpreter(mut self, path: &str) -> FakeElf {
        self.interpreter = Some(path.to_owned());
        self
    }

    /// Adds a `DT_NEEDED` entry (creating a `PT_DYNAMIC` if needed).
    pub fn with_needed(mut self) -> FakeElf {
        self.dynamic
            .get_or_insert_with(Vec::new)
            .push((elf::DT_NEEDED.0 as u64, 1));
        self
    }

    /// Replaces the payload bytes after the headers.
    pub fn with_payload(mut self, payload: &[u8]) -> FakeElf {
        self.payload = payload.to_vec();
        self
    }

    /// The image bytes.
    pub fn build(&self) -> Vec<u8> {
        const EHSIZE: u64 = 64;
        const PHENTSIZE: u64 = 56;
        let interp = self.interpreter.as_ref().map(|p| {
            let mut bytes = p.as_bytes().to_vec();
            bytes.push(0);
            bytes
        });
        let dynamic = self.dynamic.as_ref().map(|entries| {
            let mut bytes = Vec::new();
            for (tag, val) in entries.iter().chain(std::iter::once(&(0, 0))) {
                bytes.extend_from_slice(&tag.to_le_bytes());
                bytes.extend_from_slice(&val.to_le_bytes());
            }
            bytes
        });
        let phnum = 1 + u64::from(interp.is_some()) + u64::from(dynamic.is_some());
        let mut offset = EHSIZE + phnum * PHENTSIZE;
        let mut body = Vec::new();
        let mut phdrs = Vec::new();
        let mut segment = |p_type: u32, flags: u32, data: &[u8], offset: &mut u64| {
            let ph = (p_type, flags, *offset, data.len() as u64);
            body.extend_from_slice(data);
            *offset += data.len() as u64;
            ph
        };
        if let Some(bytes) = &interp {
            phdrs.push(segment(elf::PT_INTERP.0, PF_R, bytes, &mut offset));
        }
        if let Some(bytes) = &dynamic {
            phdrs.push(segment(elf::PT_DYNAMIC.0, PF_R | PF_W, bytes, &mut offset));
        }
        body.extend_from_slice(&self.payload);
        let total = EHSIZE + phnum * PHENTSIZE + body.len() as u64;
        phdrs.insert(0, (elf::PT_LOAD.0, PF_R | PF_X, 0, total));

        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(b"\x7fELF");
        out.extend_from_slice(&[ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.e_type.to_le_bytes());
        out.extend_from_slice(&self.machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&0x1000u64.to_le_bytes()); // e_entry
        out.extend_from_slice(&EHSIZE.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&(EHSIZE as u16).to_le_bytes());
        out.extend_from_slice(&(PHENTSIZE as u16).to_le_bytes());
        out.extend_from_slice(&(phnum as u16).to_le_bytes());
        out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
        out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        for (p_type, flags, p_offset, size) in phdrs {
            out.extend_from_slice(&p_type.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&p_offset.to_le_bytes());
            out.extend_from_slice(&p_offset.to_le_bytes()); // p_vaddr
            out.extend_from_slice(&p_offset.to_le_bytes()); // p_paddr
            out.extend_from_slice(&size.to_le_bytes()); // p_filesz
            out.extend_from_slice(&size.to_le_bytes()); // p_memsz
            out.extend_from_slice(&8u64.to_le_bytes()); // p_align
        }
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_pie_with_dynamic_but_no_needed_is_static() {
        let info = inspect(&FakeElf::static_pie(Machine::Aarch64).build(), "t").unwrap();
        assert_eq!(info.machine, Machine::Aarch64.e_machine());
        assert!(info.has_dynamic);
        assert_eq!(info.needed, 0);
        assert!(info.is_static());
    }

    #[test]
    fn static_exec_has_no_dynamic_segment() {
        let info = inspect(&FakeElf::static_exec(Machine::X86_64).build(), "t").unwrap();
        assert_eq!(machine_name(info.machine), "x86_64");
        assert!(!info.has_dynamic);
        assert!(info.is_static());
    }

    #[test]
    fn interpreter_makes_it_dynamic() {
        let data = FakeElf::static_pie(Machine::Aarch64)
            .with_interpreter("/lib/ld-linux-aarch64.so.1")
            .build();
        let info = inspect(&data, "t").unwrap();
        assert_eq!(
            info.interpreter.as_deref(),
            Some("/lib/ld-linux-aarch64.so.1")
        );
        assert!(!info.is_static());
    }

    #[test]
    fn needed_library_makes_it_dynamic() {
        let info = inspect(
            &FakeElf::static_exec(Machine::Aarch64).with_needed().build(),
            "t",
        )
        .unwrap();
        assert_eq!(info.needed, 1);
        assert!(!info.is_static());
    }

    #[test]
    fn refuses_non_elf_32_bit_and_non_executables() {
        let err = inspect(b"#!/bin/sh\necho hi\n", "script").unwrap_err();
        assert_eq!(
            err.to_string(),
            "script: not a usable ELF file: no ELF magic number"
        );
        let mut elf32 = FakeElf::static_exec(Machine::Aarch64).build();
        elf32[4] = 1; // ELFCLASS32
        assert!(
            inspect(&elf32, "t")
                .unwrap_err()
                .to_string()
                .contains("not a 64-bit ELF")
        );
        let mut relocatable = FakeElf::static_exec(Machine::Aarch64).build();
        relocatable[16] = 1; // ET_REL
        assert!(
            inspect(&relocatable, "t")
                .unwrap_err()
                .to_string()
                .contains("not an executable")
        );
        let truncated = &FakeElf::static_pie(Machine::Aarch64).build()[..100];
        assert!(inspect(truncated, "t").is_err());
    }

    #[test]
    fn finds_nix_store_paths() {
        let clean = FakeElf::static_pie(Machine::Aarch64).build();
        assert!(!contains_nix_store(&clean));
        let dirty = FakeElf::static_pie(Machine::Aarch64)
            .with_payload(b"x/nix/store/abc-glibc/lib")
            .build();
        assert!(contains_nix_store(&dirty));
    }

    #[test]
    fn machine_names_round_trip() {
        for m in [Machine::Aarch64, Machine::X86_64] {
            assert_eq!(Machine::from_name(m.name()), Some(m));
            assert_eq!(machine_name(m.e_machine()), m.name());
        }
        assert_eq!(Machine::from_name("arm64"), None);
    }
}
