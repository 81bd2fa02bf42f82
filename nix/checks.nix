# `nix flake check`: crane's standard set (as in crane's quick-start-workspace
# example), then per artifact `lambda-pack check`, a boot check and a
# reproducibility check, then Terraform and Nix formatting. The attribute
# names come from ./lib/names.nix, which CI tests without nixpkgs.
{
  lib,
  pkgs,
  craneLib,
  set,
  names,
  build,
  tools,
  artifacts,
  advisory-db,
  root,
  runner,
  moto,
}:
let
  inherit (build) src commonArgs cargoArtifacts;

  workspaceLayersOf = a: builtins.filter (l: set.byName ? ${l}) a.layers;

  # The sandbox has no /etc/ssl (and stdenv sets SSL_CERT_FILE to
  # /no-cert-file.crt): every HTTPS client built by a test or at a
  # bootstrap's init (rustls-platform-verifier) needs a root store, even
  # though all traffic goes to loopback fakes and moto.
  certificates = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  # Runs a script (with errexit) with the given inputs and variables, keeps
  # its output as $out, and shows it in the log whether it passes or not.
  logged =
    name: inputs: env: script:
    let
      run = pkgs.writeShellScript "${name}-run" ''
        set -euo pipefail
        ${script}
      '';
    in
    pkgs.runCommand name ({ nativeBuildInputs = inputs; } // env) ''
      if ! ${run} > log 2>&1; then
        cat log
        exit 1
      fi
      cat log
      cp log $out
    '';

  # The artifact and the layers of this workspace it attaches, in a
  # directory with their manifest.json, through every rule of lambda-pack.
  lambdaPackCheck =
    a:
    let
      members = [ a.name ] ++ workspaceLayersOf a;
    in
    logged "${a.name}-lambda-pack-check" [ tools.lambda-pack ] { } ''
      mkdir artifacts
      ${artifacts.copyZips "artifacts" members}
      lambda-pack manifest --workspace ${build.declarationSrc} --artifacts artifacts ${
        lib.concatMapStringsSep " " (n: "--only ${n}") members
      }
      lambda-pack check --artifacts artifacts --machine ${artifacts.machine}
    '';

  # crates/<crate>/smoke.json, the files it serves, and the DynamoDB schema a
  # smoke run with a `moto` section creates its tables from; the paths in
  # smoke.json are relative to the crate, so the source keeps the repo layout.
  smokeSrc =
    a:
    lib.fileset.toSource {
      inherit root;
      fileset = lib.fileset.unions [
        (root + "/${a.dir}/smoke.json")
        (lib.fileset.maybeMissing (root + "/${a.dir}/smoke"))
        (lib.fileset.maybeMissing (root + "/terraform/schema"))
      ];
    };

  # The `bootstrap` (or extension) from the zip, started against the
  # Runtime API emulator with the canned events `cargo xtask smoke` sends;
  # under qemu-user when the build machine is not aarch64. moto is on the
  # PATH for smoke cases that need DynamoDB (the runner starts it); the
  # emulator hands SSL_CERT_FILE to the bootstrap (auth, authorizer and sms
  # build their HTTPS clients at init).
  boot =
    a:
    logged "${a.name}-boot" [ tools.lambda-emulator moto ] { SSL_CERT_FILE = certificates; } (
      "lambda-emulator smoke --zip ${artifacts.zips.${a.name}}/${a.name}.zip --cases ${smokeSrc a}/${a.dir}/smoke.json"
      + lib.optionalString (runner != null) " --runner ${runner}"
    );

  # The zip from the main build and the zip from the probe build (every
  # crate, dependencies included, compiled again by derivations that differ
  # only in an unused variable and their names) must be the same bytes.
  reproducible =
    a:
    pkgs.runCommand "${a.name}-reproducible" { } ''
      cmp ${artifacts.zips.${a.name}}/${a.name}.zip ${artifacts.probeZips.${a.name}}/${a.name}.zip
      sha256sum ${artifacts.zips.${a.name}}/${a.name}.zip > $out
    '';

  perArtifact = lib.concatMapAttrs (
    name: n:
    let
      a = set.byName.${name};
    in
    {
      ${name} = artifacts.zips.${name};
      ${n.check} = lambdaPackCheck a;
      ${n.reproducible} = reproducible a;
    }
    // lib.optionalAttrs (n.boot != null) { ${n.boot} = boot a; }
  ) names.byArtifact;

  terraformSrc = lib.fileset.toSource {
    inherit root;
    fileset = root + "/terraform";
  };

  terraformEnv = ''
    export HOME=$TMPDIR CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
  '';

  nixSrc = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.fileFilter (file: file.hasExt "nix") root;
  };

  workspace = {
    # Clippy on every target, warnings denied, reusing the dependency build.
    workspace-clippy = craneLib.cargoClippy (
      commonArgs
      // {
        inherit cargoArtifacts;
        src = build.testSrc;
        cargoClippyExtraArgs = "--all-targets -- --deny warnings";
      }
    );

    workspace-doc = craneLib.cargoDoc (
      commonArgs
      // {
        inherit cargoArtifacts;
        src = build.testSrc;
        env.RUSTDOCFLAGS = "--deny warnings";
      }
    );

    workspace-fmt = craneLib.cargoFmt {
      inherit src;
    };

    workspace-toml-fmt = craneLib.taploFmt {
      src = pkgs.lib.sources.sourceFilesBySuffices src [ ".toml" ];
    };

    workspace-audit = craneLib.cargoAudit {
      inherit src advisory-db;
    };

    # bans, licenses and sources, per deny.toml.
    workspace-deny = craneLib.cargoDeny {
      inherit src;
    };

    # The whole test suite, natively (never cross).
    workspace-nextest = craneLib.cargoNextest (
      commonArgs
      // {
        inherit cargoArtifacts;
        src = build.testSrc;
        partitions = 1;
        partitionType = "count";
        cargoNextestPartitionsExtraArgs = "--no-tests=pass";
        # moto for the integration tests; git for xtask's repro tests (they
        # list a repository's files the way a fresh clone has them).
        nativeBuildInputs = [
          moto
          pkgs.git
        ];
        SSL_CERT_FILE = certificates;
        # The tests serve fakes and moto on 127.0.0.1.
        __darwinAllowLocalNetworking = true;
      }
    );

    terraform-fmt = pkgs.runCommand "terraform-fmt" { nativeBuildInputs = [ pkgs.terraform ]; } ''
      ${terraformEnv}
      terraform fmt -check -recursive -diff ${terraformSrc}/terraform
      touch $out
    '';

    # `terraform test` of every provider-free submodule that has tests: no
    # provider to download, so it runs in the sandbox.
    terraform-test = pkgs.runCommand "terraform-test" { nativeBuildInputs = [ pkgs.terraform ]; } ''
      ${terraformEnv}
      cp -r ${terraformSrc}/terraform terraform
      chmod -R u+w terraform
      for module in terraform/modules/*/; do
        if [ -d "$module/tests" ]; then
          echo "terraform test in $module"
          (cd "$module" && terraform init -backend=false -input=false && terraform test) || exit 1
        fi
      done
      touch $out
    '';

    # The artifacts module's checks against the real .#default: every
    # validation passes and each zip matches its manifest hash.
    terraform-dist = pkgs.runCommand "terraform-dist" { nativeBuildInputs = [ pkgs.terraform ]; } ''
      ${terraformEnv}
      cp -r ${terraformSrc}/terraform terraform
      chmod -R u+w terraform
      cd terraform/modules/artifacts
      terraform init -backend=false -input=false
      terraform test -test-directory=tests/dist -var artifacts_dir=${artifacts.packages.default}
      touch $out
    '';

    # The formatter CI runs (nix/tests/run.sh) and `nix fmt` runs.
    nix-fmt = pkgs.runCommand "nix-fmt" { nativeBuildInputs = [ tools.nix-fmt ]; } ''
      nix-fmt --check ${nixSrc}
      touch $out
    '';
  };

  checks = perArtifact // workspace;
in
# The same names CI computes from the declaration (nix/tests/run.sh).
assert lib.assertMsg (builtins.attrNames checks == names.checks)
  "nix/checks.nix defines ${builtins.toJSON (builtins.attrNames checks)}, nix/lib/names.nix expects ${builtins.toJSON names.checks}";
checks
