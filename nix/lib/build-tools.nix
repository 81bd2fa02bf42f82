# The pinned zig and cargo-zigbuild, read from Cargo.toml's
# [workspace.metadata.build-tools] with builtins only: the versions `cargo
# xtask setup` installs and the PyPI wheels nix/zig.nix unpacks.
#
#   fromFile :: path -> { ziglang = { version, wheels }; cargo-zigbuild = ...; }
#   fromToml :: parsed Cargo.toml -> the same
let
  required = [
    "ziglang"
    "cargo-zigbuild"
  ];
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "aarch64-darwin"
  ];

  checkPin =
    name: pin:
    let
      where = "Cargo.toml: workspace.metadata.build-tools.${name}";
      wheels = pin.wheels or (throw "${where}: wheels missing");
      checkWheel =
        system:
        let
          wheel = wheels.${system} or (throw "${where}.wheels.${system}: missing");
        in
        if
          builtins.isString (wheel.platform or null)
          && builtins.match "[0-9a-f]{64}" (wheel.sha256 or "") != null
        then
          wheel
        else
          throw "${where}.wheels.${system}: needs platform and a hex sha256";
    in
    if !(builtins.isString (pin.version or null)) then
      throw "${where}.version: must be a string"
    else
      {
        inherit (pin) version;
        wheels = builtins.listToAttrs (
          map (system: {
            name = system;
            value = checkWheel system;
          }) systems
        );
      };
  fromToml =
    toml:
    let
      tools =
        toml.workspace.metadata.build-tools
          or (throw "Cargo.toml: [workspace.metadata.build-tools] missing");
    in
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = checkPin name (tools.${name} or (throw "Cargo.toml: build-tools.${name} missing"));
      }) required
    );
in
{
  inherit fromToml;
  fromFile = file: fromToml (builtins.fromTOML (builtins.readFile file));
}
