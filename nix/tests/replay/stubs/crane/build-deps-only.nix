# buildDepsOnly: the dependencies alone, built from a dummy source. Its
# defaults: `--locked`, `cargo check` then `cargo build`, `cargo test
# --no-run` when doCheck, pname-deps, CRANE_BUILD_DEPS_ONLY.
{ craneLib }:
{
  cargoBuildCommand ? "cargoWithProfile build",
  cargoCheckCommand ? "cargoWithProfile check",
  cargoExtraArgs ? "--locked",
  cargoBuildExtraArgs ? "",
  cargoTestCommand ? "cargoWithProfile test",
  cargoTestExtraArgs ? "--no-run",
  ...
}@args:
let
  cleanedArgs = builtins.removeAttrs args [
    "cargoBuildCommand"
    "cargoCheckCommand"
    "cargoCheckExtraArgs"
    "cargoExtraArgs"
    "cargoBuildExtraArgs"
    "cargoTestCommand"
    "cargoTestExtraArgs"
    "outputHashes"
    "dummySrc"
    "outputs"
  ];
  doCheck = args.doCheck or true;
  cargoCheckExtraArgs = args.cargoCheckExtraArgs or (if doCheck then "--all-targets" else "");
  dummySrc = args.dummySrc or (craneLib.mkDummySrc args);
  crateName = craneLib.crateNameFromCargoToml (
    if args ? dummySrc then args // { src = args.dummySrc; } else args
  );
in
craneLib.mkCargoDerivation (
  cleanedArgs
  // {
    inherit doCheck;
    src = dummySrc;
    pnameSuffix = "-deps";
    pname = args.pname or crateName.pname;
    version = args.version or crateName.version;
    cargoArtifacts = null;
    cargoVendorDir = args.cargoVendorDir or (craneLib.vendorCargoDeps args);
    env = (args.env or { }) // {
      CRANE_BUILD_DEPS_ONLY = args.env.CRANE_BUILD_DEPS_ONLY or 1;
    };
    buildPhaseCargoCommand =
      args.buildPhaseCargoCommand or ''
        ${cargoCheckCommand} ${cargoExtraArgs} ${cargoCheckExtraArgs}
        ${cargoBuildCommand} ${cargoExtraArgs} ${cargoBuildExtraArgs}
      '';
    checkPhaseCargoCommand =
      args.checkPhaseCargoCommand or ''
        ${cargoTestCommand} ${cargoExtraArgs} ${cargoTestExtraArgs}
      '';
    doInstallCargoArtifacts = true;
    replayFunction = "buildDepsOnly";
    # The replay resolves the lock in the real source.
    replaySrc = args.src or null;
  }
)
