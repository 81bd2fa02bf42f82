# `nix develop`: the pinned toolchain with rust-analyzer and rust-src, every
# input of the flake checks (crane's devShell `checks`), and the tools the
# non-Nix path (`cargo xtask`) and the integration tests use.
{
  lib,
  pkgs,
  craneLibDev,
  checks,
}:
let
  # cargo-lambda before 1.9.2 links aarch64 through a zig that Rust 1.98's
  # target definition breaks.
  cargo-lambda =
    lib.warnIf (lib.versionOlder pkgs.cargo-lambda.version "1.9.2")
      "cargo-lambda ${pkgs.cargo-lambda.version} from nixpkgs is older than 1.9.2; update the nixpkgs input"
      pkgs.cargo-lambda;
in
craneLibDev.devShell {
  inherit checks;

  packages = [
    cargo-lambda
    pkgs.cargo-nextest
    pkgs.cargo-zigbuild
    pkgs.zig
    pkgs.qemu
    pkgs.terraform
    pkgs.awscli2
    pkgs.jq
    pkgs.taplo
    pkgs.nixfmt
    (pkgs.python3.withPackages (ps: [ ps.moto ] ++ (ps.moto.optional-dependencies.server or [ ])))
  ];
}
