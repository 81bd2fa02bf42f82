# `nix run .#local`: the local stack of `cargo xtask local`
# (crates/xtask/src/local.rs, crates/local-stack) from the store. What that
# command needs at run time is in the app's closure: the `local-stack`
# program, host builds of every declared function (what `cargo xtask local`
# runs when there is no dist/), the workspace declaration it reads the
# functions and routes from, Python with moto's server extras (the stack
# runs moto serially with `$MOTO_PYTHON`), root certificates for the
# functions' HTTPS clients, and qemu-user where `--dist` zips (aarch64) need
# it. The Runtime API emulator, the Cognito stand-in, the fakes and the
# gateway are libraries of local-stack, not programs of their own.
{
  lib,
  pkgs,
  craneLib,
  set,
  build,
  moto,
  emulator,
}:
let
  functions = builtins.filter (a: a.kind == "function") set.artifacts;

  # `cargo build --locked -p <function> ...` in the dev profile, as
  # `cargo xtask local` builds them (one command, so features unify as
  # there), from the whole workspace's source: the tests' source, as
  # local-stack's below, so both share the test suite's compiled crates.
  hostFunctions = craneLib.buildPackage (
    build.individualCrateArgs
    // {
      pname = "local-functions";
      src = build.testSrc;
      cargoExtraArgs = "--locked ${lib.concatMapStringsSep " " (a: "-p ${a.package}") functions}";
    }
  );

  # local-stack seeds moto's tables from terraform/schema/dynamodb.json
  # (include_str!), which only the tests' source holds besides the crates.
  localStack = craneLib.buildPackage (
    build.individualCrateArgs
    // {
      pname = "local-stack";
      src = build.testSrc;
      cargoExtraArgs = "--locked -p local-stack --bin local-stack";
      meta.mainProgram = "local-stack";
    }
  );

  description = "The whole API on loopback (cargo xtask local): moto, the Cognito stand-in, the Twilio and OpenAI fakes, every function, the local API Gateway";

  wrapper = pkgs.writeShellApplication {
    name = "lambda-forge-local";
    runtimeInputs = [ moto ] ++ lib.optional (emulator != null) emulator;
    meta = {
      inherit description;
      mainProgram = "lambda-forge-local";
    };
    text = ''
      # `cargo xtask local`'s flags: --dist <dir> runs the zips of a dist
      # directory (`nix build`'s result/, `cargo xtask dist`'s dist/), --host
      # the host builds (the default here); the rest goes to local-stack.
      dist=""
      host=0
      stack=()
      while [ "$#" -gt 0 ]; do
        case "$1" in
          --dist)
            if [ "$#" -lt 2 ]; then
              echo "lambda-forge-local: --dist needs a directory" >&2
              exit 2
            fi
            dist=$2
            shift 2
            ;;
          --host)
            host=1
            shift
            ;;
          *)
            stack+=("$1")
            shift
            ;;
        esac
      done
      if [ -n "$dist" ] && [ "$host" = 1 ]; then
        echo "lambda-forge-local: --host and --dist exclude each other" >&2
        exit 2
      fi
      if [ -n "$dist" ]; then
        artifacts=(--dist "$dist")
      else
        artifacts=(--bin-dir ${hostFunctions}/bin --root ${build.declarationSrc})
      fi
      # moto serially (local-stack runs `$MOTO_PYTHON <script>`); a root store
      # for the functions' HTTPS clients where the system has none (the
      # emulator passes SSL_CERT_FILE on). Both can be overridden.
      export MOTO_PYTHON="''${MOTO_PYTHON:-${moto}/bin/python3}"
      export SSL_CERT_FILE="''${SSL_CERT_FILE:-${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt}"
      exec ${lib.getExe localStack} "''${artifacts[@]}" "''${stack[@]}"
    '';
  };
in
{
  inherit hostFunctions localStack wrapper;

  app = {
    type = "app";
    program = lib.getExe wrapper;
    meta = { inherit description; };
  };
}
