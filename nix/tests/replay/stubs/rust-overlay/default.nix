# A stand-in for rust-overlay at flake.lock's rev dbba5f88: the overlay adds
# `rust-bin` with fromRustupToolchain { path ? null, channel ? null,
# profile ? null, components ? [ ], targets ? [ ] } and
# fromRustupToolchainFile (lib/rust-bin.nix), for the stable releases whose
# manifests that revision holds (manifests/stable/, up to 1.95.0).
final: prev:
let
  # The newest stable manifest at the locked revision.
  newestStable = "1.95.0";
  profiles = [
    "minimal"
    "default"
    "complete"
  ];

  fromRustupToolchain =
    {
      path ? null,
      channel ? null,
      profile ? null,
      components ? [ ],
      targets ? [ ],
    }:
    if path != null then
      throw "`path` is not supported, please directly add it to your PATH instead"
    else if channel == null then
      throw "`channel` is required"
    else if builtins.match "1\\.[0-9]+\\.[0-9]+" channel == null then
      throw "replay stand-in: only exact stable channels are modelled, not ${channel}"
    else if builtins.compareVersions channel newestStable > 0 then
      throw "rust-overlay at the locked revision has no manifest for Rust ${channel} (newest stable: ${newestStable})"
    else if !(builtins.elem (if profile == null then "default" else profile) profiles) then
      throw "Rust ${channel} doesn't have profile `${profile}`"
    else
      final.stdenv.mkDerivation {
        pname = "rust-${if profile == null then "default" else profile}";
        version = channel;
        passthru = {
          inherit components targets;
        };
        replay = {
          kind = "toolchain";
          inherit channel components targets;
          bins = [
            "cargo"
            "rustc"
            "rustdoc"
          ]
          ++ final.lib.optionals (builtins.elem "clippy" components) [
            "cargo-clippy"
            "clippy-driver"
          ]
          ++ final.lib.optionals (builtins.elem "rustfmt" components) [
            "rustfmt"
            "cargo-fmt"
          ];
        };
      };
in
{
  rust-bin = {
    inherit fromRustupToolchain;
    fromRustupToolchainFile =
      path:
      let
        content = builtins.readFile path;
        legacy = builtins.match "([^\r\n]+)\r?\n?" content;
      in
      if legacy != null then
        fromRustupToolchain { channel = builtins.head legacy; }
      else
        fromRustupToolchain (builtins.fromTOML content).toolchain;
  };
}
