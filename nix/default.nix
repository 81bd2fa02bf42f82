# Everything the flake exports for one build system. flake.nix only wires
# inputs and systems; the artifact set and every name derived from it come
# from the pure helpers in ./lib (tested without nixpkgs by ./tests/run.sh).
{
  system,
  nixpkgs,
  crane,
  rust-overlay,
  advisory-db,
  root,
}:
let
  forge = import ./lib;
  set = forge.artifacts.load root;
  toolchains = forge.toolchain.fromFile (root + "/rust-toolchain.toml");
  pins = forge.buildTools.fromFile (root + "/Cargo.toml");

  overlays = [ (import rust-overlay) ];
  # terraform's licence is unfree: allow that one package and nothing else.
  config.allowUnfreePredicate = pkg: builtins.elem (nixpkgs.lib.getName pkg) [ "terraform" ];

  # The build machine's packages. There is no cross package set: the
  # artifacts are cross-compiled by zig (./zig.nix), exactly as `cargo xtask
  # dist` does, so no build machine needs a musl cross GCC.
  pkgs = import nixpkgs { inherit system overlays config; };

  inherit (pkgs) lib;

  # The toolchain of rust-toolchain.toml (with the aarch64 musl std it
  # lists), for the host tools, the checks and the artifacts alike.
  craneLib = (crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile (root + "/rust-toolchain.toml")
  );
  # Same pin plus rust-analyzer and rust-src for editors.
  craneLibDev = (crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchain toolchains.dev
  );

  buildTools = import ./zig.nix {
    inherit
      pkgs
      lib
      pins
      system
      ;
  };

  # Can this machine start a linux/aarch64 `bootstrap`: natively (aarch64
  # Linux), under qemu-user (other Linux), or not at all (darwin)?
  host = pkgs.stdenv.hostPlatform;
  # qemu-user (only the user-mode emulators, not the whole system emulator).
  emulator = if host.isLinux && !host.isAarch64 then pkgs.qemu-user else null;
  runner = if emulator == null then null else "${emulator}/bin/qemu-aarch64";
  canBoot = host.isLinux;

  # moto_server and a Python that imports moto, with its server extras
  # (Flask): the integration tests, the boot checks, the dev shell and the
  # local stack start it themselves.
  moto = pkgs.python3.withPackages (ps: [ ps.moto ] ++ ps.moto.optional-dependencies.server);

  names = forge.names.outputs { inherit set canBoot; };

  build = import ./crane.nix {
    inherit
      lib
      pkgs
      craneLib
      set
      root
      forge
      buildTools
      ;
  };

  tools = import ./tools.nix { inherit craneLib build; };

  artifacts = import ./artifacts.nix {
    inherit
      lib
      pkgs
      set
      build
      tools
      forge
      ;
  };

  checks = import ./checks.nix {
    inherit
      lib
      pkgs
      craneLib
      set
      names
      build
      tools
      artifacts
      advisory-db
      root
      runner
      moto
      ;
  };

  local = import ./local.nix {
    inherit
      lib
      pkgs
      craneLib
      set
      build
      moto
      emulator
      ;
  };

  packages = artifacts.packages // {
    # The host tools, for `nix run .#lambda-pack -- ...` against a result.
    inherit (tools) lambda-pack lambda-emulator;
  };
in
# The same names CI computes from the declaration (nix/tests/run.sh).
assert lib.assertMsg (builtins.attrNames packages == builtins.sort builtins.lessThan names.packages)
  "nix/default.nix defines packages ${builtins.toJSON (builtins.attrNames packages)}, nix/lib/names.nix expects ${builtins.toJSON names.packages}";
{
  inherit checks packages;

  # `nix run .#local`: what `cargo xtask local` starts.
  apps.local = local.app;

  devShell =
    flakeChecks:
    import ./shell.nix {
      inherit
        lib
        pkgs
        craneLibDev
        buildTools
        tools
        moto
        ;
      checks = flakeChecks;
    };

  # `nix fmt`: the formatter CI and the nix-fmt check run (crates/nix-fmt).
  formatter = tools.nix-fmt;
}
