# The artifact set Nix derives equals the one `lambda-pack artifacts` (the
# reader behind cargo xtask) prints, on this repository and on every fixture
# workspace; where lambda-pack refuses a declaration, Nix must throw.
#
# listings: a JSON file written by nix/tests/run.sh,
#   { "<label>": { "path": "<absolute workspace dir>", "listing": [...] | null } }
{ listings }:
let
  forge = import ../lib;
  t = import ./lib.nix;
  workspaces = builtins.fromJSON (builtins.readFile listings);
  derived =
    path:
    let
      result = builtins.tryEval (
        let
          d = (forge.artifacts.load (/. + path)).declaration;
        in
        builtins.deepSeq d d
      );
    in
    if result.success then result.value else null;
in
if workspaces == { } then
  throw "lambda-pack-parity: no workspaces in ${listings}"
else
  t.run "lambda-pack-parity" (
    builtins.mapAttrs (_: w: {
      actual = derived w.path;
      expected = w.listing;
    }) workspaces
  )
