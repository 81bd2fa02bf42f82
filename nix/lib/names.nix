# Flake attribute names derived from the artifact set, kept apart from the
# derivations so that CI can check them without nixpkgs.
#
#   outputs :: { set, canBoot } -> { packages, artifactChecks, workspaceChecks }
#
# canBoot: whether this build machine can start a linux/aarch64 `bootstrap`
# (natively or under qemu); aarch64-darwin cannot.
let
  workspaceChecks = [
    "workspace-clippy"
    "workspace-fmt"
    "workspace-doc"
    "workspace-nextest"
    "workspace-audit"
    "workspace-deny"
    "workspace-toml-fmt"
    "terraform-fmt"
    "terraform-test"
    "terraform-dist"
    "nix-fmt"
  ];

  perArtifact = a: canBoot: {
    # `lambda-pack check` on the artifact with the layers it attaches.
    check = "${a.name}-lambda-pack-check";
    # The canned events of crates/<crate>/smoke.json against the emulator.
    boot = if canBoot && a.hasSmoke then "${a.name}-boot" else null;
    # The same zip built a second time by a derivation that differs only in an
    # irrelevant input.
    reproducible = "${a.name}-reproducible";
  };
in
{
  inherit workspaceChecks;

  outputs =
    { set, canBoot }:
    let
      artifactNames = map (a: a.name) set.artifacts;
      # .#default is the whole set; the host tools are packages too.
      reserved = [
        "default"
        "lambda-pack"
        "lambda-emulator"
      ];
      byArtifact = builtins.listToAttrs (
        map (a: {
          inherit (a) name;
          value = perArtifact a canBoot;
        }) set.artifacts
      );
      artifactChecks = builtins.filter (n: n != null) (
        builtins.concatLists (
          map (c: [
            c.check
            c.boot
            c.reproducible
          ]) (builtins.attrValues byArtifact)
        )
      );
      # The artifacts themselves are checks too, as in crane's examples.
      allChecks = artifactNames ++ artifactChecks ++ workspaceChecks;
      taken = builtins.filter (
        n: builtins.elem n reserved || builtins.elem n workspaceChecks
      ) artifactNames;
      collisions = builtins.filter (
        n: builtins.length (builtins.filter (m: m == n) allChecks) > 1
      ) allChecks;
    in
    if taken != [ ] then
      throw "artifact name \"${builtins.head taken}\" is reserved for a flake output"
    else if collisions != [ ] then
      throw "flake check name \"${builtins.head collisions}\" would be defined twice"
    else
      {
        packages = artifactNames ++ reserved;
        checks = builtins.sort builtins.lessThan allChecks;
        inherit byArtifact;
      };
}
