# The host tools the artifact derivations and checks call, built natively in
# the dev profile (they run on the build machine, never on Lambda), reusing
# the native dependency build.
{ craneLib, build }:
let
  tool =
    package:
    craneLib.buildPackage (
      build.individualCrateArgs
      // {
        pname = package;
        cargoExtraArgs = "--locked -p ${package} --bin ${package}";
        meta.mainProgram = package;
      }
    );
in
{
  lambda-pack = tool "lambda-pack";
  lambda-emulator = tool "lambda-emulator";
  # The Nix formatter: `nix fmt`, the nix-fmt check and CI run this one.
  nix-fmt = tool "nix-fmt";
}
