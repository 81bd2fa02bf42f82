# A stand-in for crane v0.23.4 (flake.lock's rev 10e6e3cb), written for the
# replay from a reading of that release's lib/: the same function names and
# argument sets (a function crane does not have, or an argument one of its
# functions does not take where it lists them, fails here as it would there),
# the same defaults (cargoExtraArgs, CARGO_PROFILE, the -deps build, the
# commands each derivation runs) and the same warnings. The derivations are
# recorded for the replay, never built.
{
  mkLib = pkgs: import ./lib.nix { inherit pkgs; };
}
