# Evaluates every output of the flake at `src` (its git-tracked files, as Nix
# copies them) for the three systems, through the stand-ins in ./stubs, to a
# derivation, and returns each output's .drv path. The derivations are
# written to the local store (never built): `nix show-derivation -r` then
# gives the replay every derivation of the closure, with its environment,
# inputs, commands (`__replay`) and source trees (store paths this
# evaluation wrote, holding exactly the files each file set selects).
#
#   nix-instantiate --eval --strict --json --read-write-mode eval.nix --arg src <dir>
{ src }:
let
  stubs = ./stubs;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "aarch64-darwin"
  ];

  flake = import (src + "/flake.nix");
  stubInputs = {
    nixpkgs = {
      outPath = stubs + "/nixpkgs";
      lib = import (stubs + "/nixpkgs/lib.nix");
    };
    crane = import (stubs + "/crane");
    rust-overlay = {
      outPath = stubs + "/rust-overlay";
    };
    advisory-db = stubs + "/advisory-db";
  };
  declared = builtins.attrNames (flake.inputs or { });
  unknown = builtins.filter (n: !(stubInputs ? ${n})) declared;
  self = outputs // {
    outPath = src;
  };
  outputs =
    if unknown != [ ] then
      throw "flake.nix declares input ${builtins.head unknown}, which the replay has no stand-in for"
    else
      flake.outputs (stubInputs // { inherit self; });

  perSystem =
    system:
    let
      named =
        (builtins.mapAttrs (_: d: d) (
          builtins.listToAttrs (
            map (n: {
              name = "packages.${n}";
              value = outputs.packages.${system}.${n};
            }) (builtins.attrNames outputs.packages.${system})
          )
        ))
        // builtins.listToAttrs (
          map (n: {
            name = "checks.${n}";
            value = outputs.checks.${system}.${n};
          }) (builtins.attrNames outputs.checks.${system})
        )
        // {
          "devShells.default" = outputs.devShells.${system}.default;
          "formatter" = outputs.formatter.${system};
        };
    in
    builtins.mapAttrs (_: d: d.drvPath) named;
in
{
  systems = builtins.listToAttrs (
    map (system: {
      name = system;
      value = perSystem system;
    }) systems
  );
}
