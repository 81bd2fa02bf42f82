{
  description = "lambda-forge: Rust Lambda functions for Graviton, packaged as reproducible zips";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";

    # A tag, not master: master carries an unreleased breaking change to
    # cross builds (the C compilers leave nativeBuildInputs).
    crane.url = "github:ipetkov/crane/v0.23.4";

    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
      advisory-db,
      ...
    }:
    let
      # No flake-utils: its default list includes x86_64-darwin, which
      # current nixpkgs rejects.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
      ];
      forAllSystems = nixpkgs.lib.genAttrs systems;

      perSystem = forAllSystems (
        system:
        import ./nix {
          inherit
            system
            nixpkgs
            crane
            rust-overlay
            advisory-db
            ;
          root = ./.;
        }
      );
    in
    {
      packages = forAllSystems (system: perSystem.${system}.packages);

      checks = forAllSystems (system: perSystem.${system}.checks);

      devShells = forAllSystems (system: {
        default = perSystem.${system}.devShell self.checks.${system};
      });

      formatter = forAllSystems (system: perSystem.${system}.formatter);

      # `nix run .#local -- [--dist <dir>|--host] [--port 4080] ...`
      apps = forAllSystems (system: perSystem.${system}.apps);
    };
}
