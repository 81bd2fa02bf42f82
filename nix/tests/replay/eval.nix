# Evaluates every output of the flake at `src` (its git-tracked files, as Nix
# copies them) for the three systems (packages, checks, the dev shell, the
# formatter and the apps' programs), through the stand-ins in ./stubs, to a
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
    builtins.mapAttrs (_: d: d.drvPath) named
    // builtins.listToAttrs (
      map (n: {
        name = "apps.${n}";
        value = (apps system).${n}.drv;
      }) (builtins.filter (n: (apps system).${n}.drv != null) (builtins.attrNames (apps system)))
    );

  # Every `apps.<system>.<name>`, as `nix flake check` and `nix run` read it:
  # its attribute names, `type`, `meta.description`, the `program` string and
  # the derivations its string context names (what `nix run` builds before
  # it execs the program). The replay's rules judge them; `drv` (the one
  # derivation, or null) joins the outputs so that its closure is replayed.
  apps =
    system:
    builtins.mapAttrs (
      _: app:
      let
        program = app.program or null;
        context = if builtins.isString program then builtins.getContext program else { };
        drvs = builtins.attrNames context;
      in
      {
        attributes = builtins.attrNames app;
        type = app.type or null;
        description = app.meta.description or null;
        program = if builtins.isString program then builtins.unsafeDiscardStringContext program else null;
        contextDrvs = drvs;
        drv = if builtins.length drvs == 1 then builtins.head drvs else null;
      }
    ) (outputs.apps.${system} or { });
in
{
  systems = builtins.listToAttrs (
    map (system: {
      name = system;
      value = perSystem system;
    }) systems
  );
  apps = builtins.listToAttrs (
    map (system: {
      name = system;
      value = apps system;
    }) systems
  );
}
