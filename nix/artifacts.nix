# One package per declared artifact, each the output of one `lambda-pack`
# call on the cross-built binary, and `default` with the whole set,
# manifest.json and the size report: the directory Terraform reads.
{
  lib,
  pkgs,
  set,
  build,
  tools,
  forge,
}:
let
  machine = forge.toolchain.machineOf set.workspace.target;

  # $out/<name>.zip. SOURCE_DATE_EPOCH comes from stdenv (1980-01-01), the
  # same date lambda-pack uses without it.
  pack =
    suffix: a: binary:
    pkgs.runCommand "lambda-${a.name}${suffix}"
      {
        nativeBuildInputs = [ tools.lambda-pack ];
      }
      (
        if a.kind == "function" then
          ''
            mkdir -p $out
            lambda-pack zip --binary ${binary}/bin/${a.binary} --out $out/${a.name}.zip
          ''
        else
          ''
            mkdir -p $out
            lambda-pack layer --extension ${binary}/bin/${a.binary} --name ${a.name} --out $out/${a.name}.zip
          ''
      );

  zips = lib.mapAttrs (_: a: pack "" a (build.binaryOf a)) set.byName;

  # The same artifacts from the reproducibility probe's builds.
  probeZips = lib.mapAttrs (_: a: pack "-probe" a (build.probeBinaryOf a)) set.byName;

  # Copies the named zips into a directory of the given path.
  copyZips =
    dir: artifactNames:
    lib.concatMapStrings (n: ''
      cp ${zips.${n}}/${n}.zip ${dir}/${n}.zip
    '') artifactNames;

  default =
    pkgs.runCommand "lambda-forge-artifacts"
      {
        nativeBuildInputs = [ tools.lambda-pack ];
      }
      ''
        mkdir -p $out
        ${copyZips "$out" (map (a: a.name) set.artifacts)}
        lambda-pack manifest --workspace ${build.declarationSrc} --artifacts $out
        lambda-pack check --artifacts $out --machine ${machine}
        lambda-pack report --artifacts $out > $out/size-report.txt
      '';
in
{
  inherit
    zips
    probeZips
    copyZips
    machine
    ;

  packages = zips // {
    inherit default;
  };
}
