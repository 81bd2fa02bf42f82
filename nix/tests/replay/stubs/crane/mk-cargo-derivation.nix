# mkCargoDerivation: the arguments it requires and removes, the defaults it
# fills in (pname/version from Cargo.toml, cargoVendorDir, the hooks and the
# toolchain in nativeBuildInputs, the build/check/install phases), and the
# record the replay reads: which crane function made it and its commands.
{
  pkgs,
  toolchain,
  craneLib,
}:
args@{
  cargoArtifacts,
  buildPhaseCargoCommand,
  checkPhaseCargoCommand ? "",
  installPhaseCommand ? "mkdir -p $out",
  ...
}:
let
  inherit (pkgs) lib;
  crateName = craneLib.crateNameFromCargoToml args;
  cleanedArgs = builtins.removeAttrs args [
    "buildPhaseCargoCommand"
    "cargoLock"
    "cargoLockContents"
    "cargoLockParsed"
    "checkPhaseCargoCommand"
    "installPhaseCommand"
    "pnameSuffix"
    "outputHashes"
    "stdenv"
    "replayFunction"
    "replaySrc"
  ];
  hooks = map (name: pkgs.makeSetupHook { inherit name; } "crane-${name}") [
    "cargoHelperFunctionsHook"
    "configureCargoCommonVarsHook"
    "configureCargoVendoredDepsHook"
    "inheritCargoArtifactsHook"
    "installCargoArtifactsHook"
    "replaceCargoLockHook"
  ];
  toolchainOrThrow =
    if toolchain == null then
      throw "crane: no toolchain (craneLib.overrideToolchain was never called)"
    else
      toolchain;
  cargoVendorDir = args.cargoVendorDir or (craneLib.vendorCargoDeps args);
in
pkgs.stdenv.mkDerivation (
  cleanedArgs
  // {
    inherit cargoArtifacts cargoVendorDir;
    pname = "${args.pname or crateName.pname}${args.pnameSuffix or ""}";
    version = args.version or crateName.version;
    doInstallCargoArtifacts = args.doInstallCargoArtifacts or true;
    nativeBuildInputs =
      (args.nativeBuildInputs or [ ])
      ++ [ toolchainOrThrow ]
      ++ hooks
      ++ [
        pkgs.rsync
        pkgs.zstd
      ];
    buildPhase =
      args.buildPhase or ''
        runHook preBuild
        cargo --version
        ${buildPhaseCargoCommand}
        runHook postBuild
      '';
    checkPhase =
      args.checkPhase or ''
        runHook preCheck
        ${checkPhaseCargoCommand}
        runHook postCheck
      '';
    installPhase =
      args.installPhase or ''
        runHook preInstall
        ${installPhaseCommand}
        runHook postInstall
      '';
    replay = {
      kind = "crane";
      function = args.replayFunction or "mkCargoDerivation";
      inherit buildPhaseCargoCommand checkPhaseCargoCommand;
      src = args.replaySrc or args.src or null;
    };
  }
)
