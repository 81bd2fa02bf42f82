# crane setup, after crane v0.23.4's examples/quick-start-workspace: one
# native dependency build shared by the host tools and the checks, and one
# artifact build per crate. The artifacts follow `cargo xtask dist` to the
# letter (crates/xtask/src/dist.rs): `cargo zigbuild --release --locked
# --target <triple> -p <crate>` in the whole workspace, with the same zig and
# cargo-zigbuild releases (./zig.nix), the same environment and the same
# path remapping, so that both paths give the same bytes.
{
  lib,
  pkgs,
  craneLib,
  set,
  root,
  forge,
  buildTools,
}:
let
  # The workspace's Cargo sources and whole crate directories: crates
  # include_str! files crane's commonCargoSources leaves out (moto-harness
  # its Python server, cognito-jwt its test keys). nix/ is left out: its
  # fixture workspaces hold Cargo.toml files that would otherwise rebuild the
  # dependency cache. Every build sees the whole workspace: `--locked` needs
  # every member to resolve Cargo.lock, as cargo does in `cargo xtask dist`.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (lib.fileset.difference (craneLib.fileset.commonCargoSources root) (
        lib.fileset.maybeMissing (root + "/nix")
      ))
      (root + "/crates")
    ];
  };

  # What tests, clippy and rustdoc read besides Rust and TOML: fixtures,
  # keys, smoke.json files, canned events, and the Terraform/docs files
  # some tests compare against (e.g. terraform/schema/dynamodb.json).
  testSrc = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (lib.fileset.difference (craneLib.fileset.commonCargoSources root) (
        lib.fileset.maybeMissing (root + "/nix")
      ))
      (root + "/crates")
      (lib.fileset.maybeMissing (root + "/terraform"))
      (lib.fileset.maybeMissing (root + "/docs"))
    ];
  };

  # Only the TOML files `lambda-pack manifest --workspace` reads.
  declarationSrc = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions (
      [ (root + "/Cargo.toml") ] ++ map (dir: root + "/${dir}/Cargo.toml") set.crates
    );
  };

  # Native builds: the host tools, clippy, rustdoc and the test suite, in the
  # dev profile `cargo xtask ci` builds them in (crane's default would be the
  # release profile: fat LTO and one codegen unit for every check).
  commonArgs = {
    inherit src;
    strictDeps = true;
    CARGO_PROFILE = "dev";

    buildInputs = lib.optionals pkgs.stdenv.isDarwin [
      pkgs.libiconv
    ];
  };

  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  individualCrateArgs = commonArgs // {
    inherit cargoArtifacts;
    # The tests run once, in the nextest check.
    doCheck = false;
  };

  # The artifacts.
  target = set.workspace.target;
  ccEnv = builtins.replaceStrings [ "-" ] [ "_" ] target;

  # crane's vendored registry: one directory per registry, named by the hash
  # of its Cargo.lock source string, each crate in `<name>-<version>`.
  cargoVendorDir = craneLib.vendorCargoDeps { inherit src; };
  registryDir =
    vendorDir:
    "${vendorDir}/${builtins.hashString "sha256" "registry+https://github.com/rust-lang/crates.io-index"}";

  # Where `cargo xtask dist` has the same crates after its remapping of
  # CARGO_HOME to /cargo: the registry's source directory as cargo 1.95
  # names it. The remapped paths end up in panic messages (and C's
  # __FILE__), so both paths must write the same ones.
  registrySrc = "/cargo/registry/src/index.crates.io-1949cf8c6b5b557f";

  # dist's CARGO_ENCODED_RUSTFLAGS and C flags, with the vendored registry in
  # place of CARGO_HOME. The target dir is only known in the build (the
  # build directory differs between machines outside the Linux sandbox).
  zigbuildEnv = vendorDir: ''
    export CARGO_TARGET_DIR="$PWD/target"
    export CARGO_ENCODED_RUSTFLAGS="-C"$'\x1f'"target-feature=+crt-static"$'\x1f'"--remap-path-prefix=${registryDir vendorDir}=${registrySrc}"$'\x1f'"--remap-path-prefix=$CARGO_TARGET_DIR=/target"
    export CFLAGS_${ccEnv}="-ffile-prefix-map=${registryDir vendorDir}=${registrySrc} -ffile-prefix-map=$CARGO_TARGET_DIR=/target"
    export CXXFLAGS_${ccEnv}="$CFLAGS_${ccEnv}"
    # HOME is /homeless-shelter: zig and cargo-zigbuild cache in the build.
    export ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache" ZIG_LOCAL_CACHE_DIR="$TMPDIR/zig-cache"
    export CARGO_ZIGBUILD_CACHE_DIR="$TMPDIR/cargo-zigbuild-cache"
    unset RUSTFLAGS
  '';

  artifactArgs =
    {
      package,
      vendorDir ? cargoVendorDir,
      extra ? { },
    }:
    {
      inherit src;
      pname = package;
      cargoVendorDir = vendorDir;
      strictDeps = true;
      doCheck = false;
      CARGO_PROFILE = "release";
      # As dist (and the README's cold-start measurement) requires.
      AWS_LC_SYS_NO_JITTER_ENTROPY = "1";
      # zig links the static musl binary; the release profile strips it.
      # stdenv's strip and patchelf are for the build machine's binaries.
      doIncludeCrossToolchainEnv = false;
      doRemapPathPrefix = false;
      dontStrip = true;
      dontPatchELF = true;
      nativeBuildInputs = [
        buildTools.zig
        buildTools.cargo-zigbuild
      ];
      buildInputs = lib.optionals pkgs.stdenv.isDarwin [ pkgs.libiconv ];
      cargoBuildCommand = "cargoWithProfile zigbuild";
      # dist runs no `cargo check`; a plain check could not compile the C
      # in aws-lc-sys for the target without zig.
      cargoCheckCommand = "true";
      cargoExtraArgs = "--locked --target ${target} -p ${package}";
      prePatch = zigbuildEnv vendorDir;
    }
    // extra;

  # One dependency build per artifact crate: `-p <crate>` selects that
  # crate's features, exactly as its own build (and dist) will.
  binaryWith =
    opts:
    let
      args = artifactArgs opts;
    in
    craneLib.buildPackage (args // { cargoArtifacts = craneLib.buildDepsOnly args; });

  # The artifact's binary, installed as $out/bin/<binary>.
  binaryOf = a: binaryWith { inherit (a) package; };

  # The reproducibility probe: the same build (dependencies included) from
  # another directory, with another target dir and the vendored sources at
  # another path. Paths are what differs between build machines; the zips
  # must not change.
  probeVendorDir =
    let
      registry = builtins.baseNameOf (registryDir cargoVendorDir);
    in
    pkgs.runCommand "vendor-cargo-deps-probe" { } ''
      mkdir -p $out
      ln -s ${registryDir cargoVendorDir} $out/${registry}
      sed "s|${cargoVendorDir}|$out|g" ${cargoVendorDir}/config.toml > $out/config.toml
    '';

  probeBinaryOf =
    a:
    binaryWith {
      inherit (a) package;
      vendorDir = probeVendorDir;
      extra = {
        pnameSuffix = "-probe";
        # Unpack into another directory than the main build's /build/source.
        postUnpack = ''
          mkdir -p elsewhere/probe
          mv "$sourceRoot" elsewhere/probe/source
          sourceRoot=elsewhere/probe/source
        '';
      };
    };
in
{
  inherit
    src
    testSrc
    declarationSrc
    commonArgs
    cargoArtifacts
    individualCrateArgs
    cargoVendorDir
    registrySrc
    binaryOf
    probeBinaryOf
    ;
}
