# crane setup, after crane v0.23.4's examples/quick-start-workspace (one
# buildDepsOnly shared by every crate, a per-crate fileset, `--locked -p`)
# and examples/cross-rust-overlay (a cross pkgs set with crossSystem; crane's
# mkCrossToolchainEnv then sets CARGO_BUILD_TARGET, the linker, CC_<target>,
# HOST_CC/TARGET_CC and puts both C compilers in nativeBuildInputs).
{
  lib,
  pkgs,
  pkgsCross,
  craneLib,
  craneLibCross,
  set,
  root,
  forge,
}:
let
  # Cargo sources only. nix/ is left out: its fixture workspaces hold
  # Cargo.toml files that would otherwise rebuild the dependency cache.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.difference (craneLib.fileset.commonCargoSources root) (
      lib.fileset.maybeMissing (root + "/nix")
    );
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

  # One crate plus the crates it reaches through path dependencies (read
  # from the Cargo.toml files by the pure helper), so that an edit to one
  # function does not rebuild the others. Members left out are fine with
  # cargo because the workspace declares `members = ["crates/*"]`. Whole
  # crate directories rather than crane's commonCargoSources: crates
  # include_str! non-Rust files (cognito-jwt's test keys, for one).
  fileSetForCrate =
    dir:
    lib.fileset.toSource {
      inherit root;
      fileset = lib.fileset.unions (
        [
          (root + "/Cargo.toml")
          (root + "/Cargo.lock")
          (lib.fileset.maybeMissing (root + "/.cargo/config.toml"))
        ]
        ++ map (d: root + "/${d}") (set.closureOf dir)
      );
    };

  # Native builds: the host tools (lambda-pack, lambda-emulator), clippy,
  # rustdoc and the test suite.
  commonArgs = {
    inherit src;
    strictDeps = true;

    buildInputs = lib.optionals pkgs.stdenv.isDarwin [
      pkgs.libiconv
    ];
  };

  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  individualCrateArgs = commonArgs // {
    inherit cargoArtifacts;
    inherit (craneLib.crateNameFromCargoToml { inherit src; }) version;
    # The tests run once, natively, in the nextest check.
    doCheck = false;
  };

  # Cross builds of the artifacts.
  targetTriple = set.workspace.target;
  cargoEnv = forge.toolchain.cargoEnvTarget targetTriple;
  ccEnv = builtins.replaceStrings [ "-" ] [ "_" ] targetTriple;
  # Paths of vendored crates (/nix/store/...-vendor-cargo-deps/...) end up in
  # panic locations and in C's __FILE__; `lambda-pack check` refuses any
  # /nix/store/ string in an artifact, so map them to a neutral prefix. The
  # mapping is a constant, so the dependency build and the final build see
  # the same flags and cargo reuses the cached dependencies.
  storePrefixMap = "/nix/store=/nix-store";

  commonArgsCross = {
    inherit src;
    # ring on aarch64-darwin needs the build machine's compiler found through
    # the non-strict (host) inputs as well (xmtp/libxmtp's darwin build).
    strictDeps = !pkgsCross.stdenv.buildPlatform.isDarwin;
    doCheck = false;

    CARGO_BUILD_TARGET = targetTriple;
    "CARGO_TARGET_${cargoEnv}_RUSTFLAGS" =
      "-C target-feature=+crt-static --remap-path-prefix=${storePrefixMap}";
    "CFLAGS_${ccEnv}" = "-ffile-prefix-map=${storePrefixMap}";
    "CXXFLAGS_${ccEnv}" = "-ffile-prefix-map=${storePrefixMap}";

    # crane adds the build platform's cc for build scripts (aws-lc-sys and
    # ring compile small programs for the build machine); it is listed here
    # too so that the build keeps it when crane stops adding it (crane
    # master, PR #1059). The musl cross cc comes from pkgsCross's stdenv.
    nativeBuildInputs = [
      pkgsCross.buildPackages.stdenv.cc
    ]
    ++ lib.optionals pkgsCross.stdenv.buildPlatform.isDarwin [
      pkgsCross.buildPackages.libiconv
    ];
  };

  cargoArtifactsCross = craneLibCross.buildDepsOnly commonArgsCross;

  individualCrossArgs = commonArgsCross // {
    cargoArtifacts = cargoArtifactsCross;
    inherit (craneLibCross.crateNameFromCargoToml { inherit src; }) version;
  };

  # The artifact's binary: `cargo build --release --locked -p <crate> --bin <bin>`
  # for the target, installed as $out/bin/<bin>.
  binaryOf =
    a:
    craneLibCross.buildPackage (
      individualCrossArgs
      // {
        pname = a.package;
        cargoExtraArgs = "--locked -p ${a.package} --bin ${a.binary}";
        src = fileSetForCrate a.dir;
      }
    );

  # The reproducibility probe: the whole build again (dependencies included)
  # through derivations that differ only in an environment variable nobody
  # reads and in their names, hence in their build directories outside the
  # Linux sandbox.
  probeArgs = {
    LAMBDA_FORGE_REPRODUCIBILITY_PROBE = "second build";
  };

  cargoArtifactsCrossProbe = craneLibCross.buildDepsOnly (
    commonArgsCross
    // probeArgs
    // {
      # buildDepsOnly always appends "-deps"; the name is what differs.
      pname = "workspace-probe";
    }
  );

  probeBinaryOf =
    a:
    craneLibCross.buildPackage (
      individualCrossArgs
      // probeArgs
      // {
        pname = a.package;
        pnameSuffix = "-probe";
        cargoArtifacts = cargoArtifactsCrossProbe;
        cargoExtraArgs = "--locked -p ${a.package} --bin ${a.binary}";
        src = fileSetForCrate a.dir;
      }
    );
in
{
  inherit
    src
    testSrc
    declarationSrc
    fileSetForCrate
    commonArgs
    cargoArtifacts
    individualCrateArgs
    binaryOf
    probeBinaryOf
    ;
}
