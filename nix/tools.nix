# The host tools every artifact derivation and check calls, built natively
# (they run on the build machine, never on Lambda).
{ craneLib, build }:
let
  tool =
    package:
    craneLib.buildPackage (
      build.individualCrateArgs
      // {
        pname = package;
        cargoExtraArgs = "--locked -p ${package} --bin ${package}";
        src = build.fileSetForCrate "crates/${package}";
        meta.mainProgram = package;
      }
    );
in
{
  lambda-pack = tool "lambda-pack";
  lambda-emulator = tool "lambda-emulator";
}
