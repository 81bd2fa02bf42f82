# buildPackage: `cargoWithProfile build --message-format json-render-diagnostics
# ${cargoExtraArgs} ${cargoBuildExtraArgs}` (cargoExtraArgs defaults to
# --locked), the binaries installed from cargo's build log, a buildDepsOnly
# of the same arguments unless cargoArtifacts is given, doCheck by default.
{ craneLib }:
{
  cargoBuildCommand ? "cargoWithProfile build",
  cargoExtraArgs ? "--locked",
  cargoBuildExtraArgs ? "",
  cargoTestCommand ? "cargoWithProfile test",
  cargoTestExtraArgs ? "",
  ...
}@args:
let
  crateName = craneLib.crateNameFromCargoToml args;
  cleanedArgs = builtins.removeAttrs args [
    "cargoBuildCommand"
    "cargoExtraArgs"
    "cargoBuildExtraArgs"
    "cargoTestCommand"
    "cargoTestExtraArgs"
    "outputHashes"
  ];
  memoizedArgs = {
    pname = args.pname or crateName.pname;
    version = args.version or crateName.version;
    cargoVendorDir = args.cargoVendorDir or (craneLib.vendorCargoDeps args);
  };
in
craneLib.mkCargoDerivation (
  cleanedArgs
  // memoizedArgs
  // {
    doCheck = args.doCheck or true;
    doInstallCargoArtifacts = args.doInstallCargoArtifacts or false;
    cargoArtifacts =
      args.cargoArtifacts or (craneLib.buildDepsOnly (
        args // memoizedArgs // { installPhase = "prepareAndInstallCargoArtifactsDir"; }
      ));
    buildPhaseCargoCommand =
      args.buildPhaseCargoCommand or ''
        cargoBuildLog=$(mktemp cargoBuildLogXXXX.json)
        ${cargoBuildCommand} --message-format json-render-diagnostics ${cargoExtraArgs} ${cargoBuildExtraArgs} >"$cargoBuildLog"
      '';
    checkPhaseCargoCommand =
      args.checkPhaseCargoCommand or ''
        ${cargoTestCommand} ${cargoExtraArgs} ${cargoTestExtraArgs}
      '';
    replayFunction = "buildPackage";
  }
)
