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

  overlays = [ (import rust-overlay) ];
  # terraform's licence is unfree: allow that one package and nothing else.
  config.allowUnfreePredicate = pkg: builtins.elem (nixpkgs.lib.getName pkg) [ "terraform" ];

  # The build machine's own packages: host tools, checks, the dev shell.
  pkgs = import nixpkgs { inherit system overlays config; };

  # The artifacts' package set: static aarch64 musl from every build system.
  # On aarch64-linux this is still a cross set (glibc to musl), so the
  # artifact is the same kind of binary wherever it is built.
  pkgsCross = import nixpkgs {
    localSystem = system;
    crossSystem.config = set.workspace.target;
    inherit overlays config;
  };

  inherit (pkgs) lib;

  # The toolchain of rust-toolchain.toml, for native builds (host tools,
  # clippy, tests) and, through the cross-aware `p`, for the artifacts.
  craneLib = (crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile (root + "/rust-toolchain.toml")
  );
  craneLibCross = (crane.mkLib pkgsCross).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile (root + "/rust-toolchain.toml")
  );
  # Same pin plus rust-analyzer and rust-src for editors.
  craneLibDev = (crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchain toolchains.dev
  );

  # Can this machine start the artifact's `bootstrap`: natively (any Linux
  # on aarch64), under qemu-user (other Linux), or not at all (darwin)?
  target = pkgsCross.stdenv.hostPlatform;
  runsNatively = pkgs.stdenv.hostPlatform.canExecute target;
  runner =
    if runsNatively then
      null
    else if target.emulatorAvailable pkgs then
      target.emulator pkgs
    else
      null;
  canBoot = runsNatively || runner != null;

  names = forge.names.outputs { inherit set canBoot; };

  build = import ./crane.nix {
    inherit
      lib
      pkgs
      pkgsCross
      craneLib
      craneLibCross
      set
      root
      forge
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

  devShell =
    flakeChecks:
    import ./shell.nix {
      inherit lib pkgs craneLibDev;
      checks = flakeChecks;
    };

  formatter = pkgs.nixfmt-tree or pkgs.nixfmt;
}
