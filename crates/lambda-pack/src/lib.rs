//! lambda-pack: the packager of lambda-forge.
//!
//! Reads the declared artifact set ([`spec`]), writes deterministic function
//! zips and layer archives ([`archive`]), records them in `manifest.json`
//! for Terraform ([`manifest`]), and checks them before deployment: static
//! ELF for the right machine, exact entries, hashes, budgets and AWS limits
//! ([`check`], [`elf`], [`report`]). The `lambda-pack` binary exposes each
//! step as a command; `cargo xtask` and the Nix flake call those.

pub mod archive;
pub mod check;
pub mod elf;
mod error;
pub mod manifest;
pub mod report;
pub mod route;
pub mod spec;

pub use error::Error;
