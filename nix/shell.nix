# `nix develop`: the pinned toolchain with rust-analyzer and rust-src, every
# input of the flake checks (crane's devShell `checks`), and the tools the
# non-Nix path (`cargo xtask`) and the integration tests use: the pinned
# zig and cargo-zigbuild, so that `cargo xtask dist` in the shell gives the
# flake's bytes.
{
  lib,
  pkgs,
  craneLibDev,
  buildTools,
  tools,
  moto,
  checks,
}:
craneLibDev.devShell {
  inherit checks;

  packages = [
    pkgs.cargo-lambda
    pkgs.cargo-nextest
    buildTools.cargo-zigbuild
    buildTools.zig
    tools.nix-fmt
    pkgs.terraform
    pkgs.awscli2
    pkgs.jq
    pkgs.taplo
    moto
  ]
  # qemu-user runs aarch64 binaries on x86_64 Linux (`cargo xtask smoke`);
  # only the user-mode emulators, not the whole system emulator.
  ++ lib.optionals (pkgs.stdenv.hostPlatform.isLinux && !pkgs.stdenv.hostPlatform.isAarch64) [
    pkgs.qemu-user
  ];
}
