# A stand-in for nixpkgs at the flake.lock revision, written for the replay
# (nix/tests/replay): `import nixpkgs { ... }` gives a package set whose
# derivations are real (builtins.derivation, so every flake output evaluates
# to a .drv) but never built. Each records what the replay needs: its
# arguments, the programs it puts on PATH, the files it provides. A package
# nixpkgs does not have at that revision is missing here too.
{
  system ? builtins.currentSystem,
  localSystem ? null,
  crossSystem ? null,
  overlays ? [ ],
  config ? { },
  crossOverlays ? [ ],
}@args:
let
  lib = import ./lib.nix;
  buildSystem = if localSystem == null then system else localSystem.system or localSystem;

  platformOf =
    sys:
    let
      parts = builtins.split "-" sys;
      arch = builtins.elemAt parts 0;
      kernel = builtins.elemAt parts 2;
    in
    rec {
      system = sys;
      isLinux = kernel == "linux";
      isDarwin = kernel == "darwin";
      isAarch64 = arch == "aarch64";
      isx86_64 = arch == "x86_64";
      canExecute = other: other.system == sys || (isx86_64 && other.isx86_64 && other.isLinux == isLinux);
      rust.rustcTarget = if isDarwin then "${arch}-apple-darwin" else "${arch}-unknown-linux-gnu";
      rust.cargoEnvVarTarget = lib.strings.escapeShellArg rust.rustcTarget;
    };
  host = platformOf buildSystem;

  # What real stdenv.mkDerivation does with its arguments that matters here:
  # `env` becomes variables (a clash with a top-level argument is an error),
  # passthru and meta stay out of the environment, name is pname-version.
  mkDerivation =
    attrsOrFn:
    let
      attrs = if builtins.isFunction attrsOrFn then attrsOrFn attrs else attrsOrFn;
      env = attrs.env or { };
      clash = builtins.filter (n: attrs ? ${n}) (builtins.attrNames env);
      name =
        attrs.name or "${attrs.pname or (throw "mkDerivation: neither name nor pname")}-${
          attrs.version or (throw "mkDerivation: ${attrs.pname} has no version")
        }";
      plain = builtins.removeAttrs attrs [
        "env"
        "passthru"
        "meta"
        "replay"
        "pos"
      ];
      licenceOk =
        !(attrs.meta.unfree or false)
        || (config.allowUnfreePredicate or (_: false)) {
          inherit name;
          pname = attrs.pname or name;
        };
      # What the replay reads besides the environment (`nix show-derivation`
      # gives it with every derivation of the closure).
      replay = {
        kind = "derivation";
      }
      // (attrs.replay or { });
      drv = derivation (
        plain
        // env
        // {
          inherit name;
          system = buildSystem;
          builder = "/bin/sh";
          args = [
            "-c"
            "echo replay stub: not built >&2; exit 1"
          ];
          stdenv = "stdenv-stub";
          __replay = builtins.toJSON replay;
        }
      );
    in
    if clash != [ ] then
      throw "mkDerivation ${name}: env.${builtins.head clash} is also a top-level argument"
    else if !licenceOk then
      throw "Package ‘${name}’ has an unfree license, refusing to evaluate."
    else
      drv
      // (attrs.passthru or { })
      // {
        meta = attrs.meta or { };
        pname = attrs.pname or (builtins.parseDrvName name).name;
        version = attrs.version or (builtins.parseDrvName name).version;
        inherit replay;
      };

  # A package of nixpkgs, standing in for the real one: what the replay maps
  # it to on the CI machine (programs on PATH, files). Versions are "stub"
  # except where the flake's behaviour depended on one (cargo-lambda 1.9.1
  # and nixfmt 1.2 at the locked revision, as issue 14 records).
  package =
    pname: version: extra:
    mkDerivation (
      {
        inherit pname version;
        replay = {
          kind = "package";
          bins = extra.bins or [ pname ];
          files = extra.files or { };
        };
      }
      // builtins.removeAttrs extra [
        "bins"
        "files"
      ]
    );

  runCommandWith =
    kind: name: env: script:
    mkDerivation (
      env
      // {
        inherit name;
        buildCommand = script;
        replay = {
          inherit kind;
        }
        // (env.replay or { });
      }
    );

  stdenvOf = mk: {
    hostPlatform = host;
    buildPlatform = host;
    targetPlatform = host;
    inherit (host) isLinux isDarwin;
    mkDerivation = mk;
    cc = package "gcc-wrapper" "stub" {
      bins = [
        "cc"
        "c++"
        "ld"
        "ar"
      ];
      passthru.cc.lib = package "gcc-lib" "stub" { bins = [ ]; };
    };
  };

  python3Packages = {
    moto = package "python3.13-moto" "stub" {
      bins = [ ];
      passthru.optional-dependencies.server = [ ];
    };
  };

  base = {
    inherit lib;
    inherit config;
    replayCross = crossSystem != null || crossOverlays != [ ];
    stdenv = stdenvOf mkDerivation;
    stdenvNoCC = stdenvOf mkDerivation;
    runCommand = runCommandWith "runCommand";
    runCommandLocal = runCommandWith "runCommand";
    writeShellScript =
      name: text:
      runCommandWith "script" name {
        replay.text = text;
      } "write";
    writeText = name: text: runCommandWith "text" name { replay.text = text; } "write";
    # trivial-builders' writeShellApplication: exactly its arguments (no
    # `...`), the script at $out/bin/<name>, the bash options and the PATH
    # export it prepends to the text.
    writeShellApplication =
      {
        name,
        text,
        runtimeInputs ? [ ],
        runtimeEnv ? null,
        meta ? { },
        passthru ? { },
        checkPhase ? null,
        excludeShellChecks ? [ ],
        extraShellCheckFlags ? [ ],
        bashOptions ? [
          "errexit"
          "nounset"
          "pipefail"
        ],
        derivationArgs ? { },
        inheritPath ? true,
      }:
      let
        script = ''
          #!${base.runtimeShell}
          ${lib.concatMapStringsSep "\n" (option: "set -o ${option}") bashOptions}
        ''
        + lib.optionalString (runtimeInputs != [ ]) ''

          export PATH="${
            lib.concatMapStringsSep ":" (p: "${p}/bin") runtimeInputs
          }${lib.optionalString inheritPath ":$PATH"}"
        ''
        + ''

          ${text}
        '';
      in
      mkDerivation (
        derivationArgs
        // {
          inherit name meta passthru;
          destination = "/bin/${name}";
          executable = true;
          buildCommand = "write";
          replay = {
            kind = "script";
            text = script;
            bins = [ name ];
            runtimeInputs = map toString runtimeInputs;
          };
        }
      );
    runtimeShell = "${base.bash}/bin/bash";
    bash = package "bash" "stub" { };
    makeSetupHook =
      { name, ... }@attrs:
      script:
      mkDerivation {
        inherit name;
        replay = {
          kind = "hook";
          inherit script;
        };
      };
    fetchurl =
      {
        url,
        sha256 ? "",
        hash ? "",
        ...
      }:
      mkDerivation {
        name = baseNameOf url;
        inherit url;
        outputHash = if hash != "" then hash else sha256;
        outputHashAlgo = if hash != "" then null else "sha256";
        replay.kind = "fetch";
      };
    fetchPypi = import ./fetchpypi.nix { inherit (base) fetchurl; };

    unzip = package "unzip" "stub" { };
    autoPatchelfHook = package "auto-patchelf-hook" "stub" { bins = [ ]; };
    libiconv = package "libiconv" "stub" { bins = [ ]; };
    git = package "git" "stub" { };
    cacert = package "nss-cacert" "stub" {
      bins = [ ];
      files."etc/ssl/certs/ca-bundle.crt" = "ca-bundle";
    };
    cargo-nextest = package "cargo-nextest" "stub" { };
    cargo-audit = package "cargo-audit" "stub" { };
    cargo-deny = package "cargo-deny" "stub" { };
    cargo-lambda = package "cargo-lambda" "1.9.1" { };
    taplo = package "taplo" "stub" { };
    rsync = package "rsync" "stub" { };
    zstd = package "zstd" "stub" { };
    jq = package "jq" "stub" { };
    awscli2 = package "awscli2" "stub" { bins = [ "aws" ]; };
    nixfmt = package "nixfmt" "1.2.0" { };
    qemu = package "qemu" "stub" {
      bins = [
        "qemu-system-aarch64"
        "qemu-aarch64"
      ];
    };
    qemu-user = package "qemu-user" "stub" { bins = [ "qemu-aarch64" ]; };
    terraform = package "terraform" "stub" { meta.unfree = true; };
    python3 = package "python3" "stub" {
      passthru.withPackages =
        f:
        package "python3-env" "stub" {
          bins = [
            "python3"
          ]
          ++ lib.optionals (builtins.any (p: (p.pname or "") == "python3.13-moto") (f python3Packages)) [
            "moto_server"
          ];
        };
    };
  };

  applyOverlays = builtins.foldl' (
    pkgs: overlay:
    let
      final = pkgs // overlay final pkgs;
    in
    final
  ) base overlays;
in
applyOverlays
