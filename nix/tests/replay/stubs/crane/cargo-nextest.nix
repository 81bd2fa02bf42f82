# cargoNextest (partitions = 1): `cargo nextest run ${CARGO_PROFILE:+--cargo-profile
# $CARGO_PROFILE} ${cargoExtraArgs} ${cargoNextestExtraArgs} ${cargoNextestPartitionsExtraArgs}`
# in the check phase, cargoExtraArgs defaulting to "" (no --locked), nextest
# added to nativeBuildInputs, NEXTEST_SHOW_PROGRESS=counter. More partitions
# (an archive plus one derivation each) are not modelled: the flake uses one.
{
  lib,
  pkgs,
  craneLib,
}:
{
  cargoArtifacts,
  cargoExtraArgs ? "",
  cargoLlvmCovExtraArgs ? "--lcov --output-path $out/coverage",
  cargoNextestExtraArgs ? "",
  cargoNextestArchiveExtraArgs ? "",
  cargoNextestPartitionsExtraArgs ? "",
  doInstallCargoArtifacts ? true,
  partitions ? 1,
  partitionType ? "count",
  withLlvmCov ? false,
  ...
}@origArgs:
let
  args = builtins.removeAttrs origArgs [
    "cargoExtraArgs"
    "cargoLlvmCovExtraArgs"
    "cargoNextestExtraArgs"
    "cargoNextestPartitionsExtraArgs"
    "partitions"
    "partitionType"
    "withLlvmCov"
  ];
in
if partitions < 1 then
  throw "paritions must be at least 1 or greater"
else if partitions != 1 || withLlvmCov then
  throw "replay stand-in: only cargoNextest with partitions = 1 and no llvm-cov is modelled"
else
  craneLib.mkCargoDerivation (
    args
    // {
      inherit cargoArtifacts;
      pnameSuffix = "-nextest";
      doCheck = args.doCheck or true;
      env = {
        NEXTEST_SHOW_PROGRESS = args.NEXTEST_SHOW_PROGRESS or "counter";
      }
      // (args.env or { });
      buildPhaseCargoCommand =
        args.buildPhaseCargoCommand or ''
          mkdir -p $out
          cargo nextest --version
        '';
      checkPhaseCargoCommand = ''
        cargo nextest run \
        ''${CARGO_PROFILE:+--cargo-profile $CARGO_PROFILE} ${cargoExtraArgs} ${cargoNextestExtraArgs} ${cargoNextestPartitionsExtraArgs}
      '';
      nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.cargo-nextest ];
      replayFunction = "cargoNextest";
    }
  )
