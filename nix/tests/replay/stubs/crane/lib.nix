# craneLib for one package set; see ./default.nix.
{
  pkgs,
  toolchain ? null,
}:
let
  inherit (pkgs) lib;

  # crane warns below nixpkgs 25.11 (lib/default.nix); the stand-in lib says
  # which release it stands for.
  self = {
    overrideToolchain =
      toolchainArg:
      import ./lib.nix {
        inherit pkgs;
        toolchain = if lib.isFunction toolchainArg then toolchainArg pkgs else toolchainArg;
      };

    crateNameFromCargoToml = import ./crate-name.nix { inherit lib; };

    fileset = rec {
      cargoTomlAndLock =
        path:
        lib.fileset.fileFilter (
          file:
          lib.elem file.name [
            "Cargo.toml"
            "Cargo.lock"
          ]
        ) path;
      rust = path: lib.fileset.fileFilter (file: file.hasExt "rs") path;
      toml = path: lib.fileset.fileFilter (file: file.hasExt "toml") path;
      configToml = path: lib.fileset.fileFilter (file: file.name == "config.toml") path;
      commonCargoSources =
        path:
        lib.fileset.unions [
          (cargoTomlAndLock path)
          (rust path)
          (toml path)
        ];
    };

    # The vendored registry: one directory per registry (sha256 of its
    # Cargo.lock source string) of `<name>-<version>` crates, and a
    # config.toml replacing crates-io with it (vendorCargoRegistries.nix).
    vendorCargoDeps =
      args:
      let
        src = args.src.origSrc or args.src or (throw "vendorCargoDeps: unable to find `src` attribute");
        lockFile = args.cargoLock or (src + "/Cargo.lock");
        lock = builtins.fromTOML (
          args.cargoLockContents or (
            if builtins.pathExists lockFile then
              builtins.readFile lockFile
            else
              throw "unable to find Cargo.lock at ${toString src}"
          )
        );
      in
      pkgs.runCommandLocal "vendor-cargo-deps" {
        replay = {
          kind = "vendor";
          packages = builtins.length (lock.package or [ ]);
          registries = map (source: builtins.hashString "sha256" source) (
            lib.lists.unique or (xs: xs) (
              builtins.filter (s: s != null) (map (p: p.source or null) (lock.package or [ ]))
            )
          );
        };
      } "vendor";

    # The source with every Cargo.toml stripped to what decides dependencies;
    # named like its source so that it unpacks to the same directory.
    mkDummySrc =
      {
        src,
        cargoLock ? null,
        extraDummyScript ? "",
        ...
      }:
      pkgs.runCommand (src.name or "dummy-src") {
        replay = {
          kind = "dummySrc";
          of = src;
        };
      } "dummy";

    mkCargoDerivation = import ./mk-cargo-derivation.nix {
      inherit pkgs toolchain;
      craneLib = self;
    };

    buildDepsOnly = import ./build-deps-only.nix { craneLib = self; };
    buildPackage = import ./build-package.nix { craneLib = self; };

    cargoClippy =
      {
        cargoArtifacts,
        cargoClippyExtraArgs ? "--all-targets",
        cargoExtraArgs ? "--locked",
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [
          "cargoClippyExtraArgs"
          "cargoExtraArgs"
        ];
      in
      self.mkCargoDerivation (
        args
        // {
          inherit cargoArtifacts;
          pnameSuffix = "-clippy";
          buildPhaseCargoCommand = "cargoWithProfile clippy ${cargoExtraArgs} ${cargoClippyExtraArgs}";
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ toolchain ];
        }
      );

    cargoDoc =
      {
        cargoDocExtraArgs ? "--no-deps",
        cargoExtraArgs ? "--locked",
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [
          "cargoDocExtraArgs"
          "cargoExtraArgs"
        ];
      in
      self.mkCargoDerivation (
        args
        // {
          pnameSuffix = "-doc";
          buildPhaseCargoCommand = "cargoWithProfile doc ${cargoExtraArgs} ${cargoDocExtraArgs}";
          doInstallCargoArtifacts = args.doInstallCargoArtifacts or false;
        }
      );

    cargoFmt =
      {
        cargoExtraArgs ? "",
        rustFmtExtraArgs ? "",
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [
          "cargoExtraArgs"
          "rustFmtExtraArgs"
        ];
      in
      self.mkCargoDerivation (
        args
        // {
          cargoArtifacts = null;
          cargoVendorDir = null;
          pnameSuffix = "-fmt";
          buildPhaseCargoCommand = "cargo fmt ${cargoExtraArgs} -- --check ${rustFmtExtraArgs}";
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ toolchain ];
        }
      );

    taploFmt =
      {
        taploExtraArgs ? "",
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [ "taploExtraArgs" ];
      in
      self.mkCargoDerivation (
        args
        // {
          cargoArtifacts = null;
          cargoVendorDir = null;
          pnameSuffix = "-tomlfmt";
          buildPhaseCargoCommand = "taplo fmt --check ${taploExtraArgs}";
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.taplo ];
        }
      );

    cargoAudit =
      {
        advisory-db,
        cargoAuditExtraArgs ? "--ignore yanked",
        src,
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [ "cargoAuditExtraArgs" ];
      in
      self.mkCargoDerivation (
        args
        // {
          buildPhaseCargoCommand = "cargo audit -n -d ${advisory-db} ${cargoAuditExtraArgs}";
          src = lib.cleanSourceWith {
            inherit src;
            filter =
              path: type:
              type == "directory" || lib.hasSuffix "Cargo.lock" path || lib.hasSuffix "audit.toml" path;
          };
          cargoArtifacts = null;
          cargoVendorDir = null;
          doInstallCargoArtifacts = false;
          pnameSuffix = "-audit";
          pname = args.pname or "crate";
          version = args.version or "0.0.0";
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.cargo-audit ];
        }
      );

    cargoDeny =
      {
        cargoDenyExtraArgs ? "",
        cargoDenyChecks ? "bans licenses sources",
        cargoExtraArgs ? "",
        ...
      }@origArgs:
      let
        args = builtins.removeAttrs origArgs [
          "cargoDenyExtraArgs"
          "cargoExtraArgs"
        ];
      in
      self.mkCargoDerivation (
        args
        // {
          buildPhaseCargoCommand = "cargo --offline ${cargoExtraArgs} deny ${cargoDenyExtraArgs} check ${cargoDenyChecks}";
          cargoArtifacts = null;
          doInstallCargoArtifacts = false;
          pnameSuffix = "-deny";
          nativeBuildInputs = (args.nativeBuildInputs or [ ]) ++ [ pkgs.cargo-deny ];
        }
      );

    cargoNextest = import ./cargo-nextest.nix {
      inherit lib pkgs;
      craneLib = self;
    };

    devShell =
      {
        checks ? { },
        inputsFrom ? [ ],
        packages ? [ ],
        ...
      }@args:
      let
        cleanedArgs = builtins.removeAttrs args [
          "checks"
          "inputsFrom"
          "nativeBuildInputs"
        ];
      in
      pkgs.stdenv.mkDerivation (
        cleanedArgs
        // {
          name = args.name or "nix-shell";
          inputsFrom = builtins.attrValues checks ++ inputsFrom;
          packages = [ toolchain ] ++ packages;
          replay.kind = "shell";
        }
      );
  };
in
lib.warnIf (lib.versionOlder (builtins.substring 0 5
  lib.version
) "25.11") "crane requires at least nixpkgs-25.11, supplied nixpkgs-${lib.version}" self
