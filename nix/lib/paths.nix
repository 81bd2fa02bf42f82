# Relative-path arithmetic on strings, so that crate paths read from
# Cargo.toml (`path = "../env-config"`) can be compared and turned into
# filesets without nixpkgs.
let
  segments =
    path: builtins.filter (s: builtins.isString s && s != "" && s != ".") (builtins.split "/" path);

  # Resolves `..` against the segments seen so far; a path that climbs out of
  # the workspace root is a declaration error, not something to guess about.
  resolve =
    segs:
    builtins.foldl' (
      acc: seg:
      if seg == ".." then
        if acc == [ ] then
          throw "path climbs out of the workspace root"
        else
          builtins.genList (i: builtins.elemAt acc i) (builtins.length acc - 1)
      else
        acc ++ [ seg ]
    ) [ ] segs;
in
{
  # normalize "crates/a/../b/./" == "crates/b"
  normalize = path: builtins.concatStringsSep "/" (resolve (segments path));

  # join "crates/sms" "../env-config" == "crates/env-config"
  join = base: rel: builtins.concatStringsSep "/" (resolve (segments base ++ segments rel));
}
