# zig and cargo-zigbuild for the artifact builds: the PyPI wheels of the
# releases pinned in Cargo.toml ([workspace.metadata.build-tools]), the very
# files `cargo xtask setup` installs with pip. `nix build` and `cargo xtask
# dist` therefore link with the same zig binary, driven by the same
# cargo-zigbuild, whatever nixpkgs' own zig is at the pinned revision.
{
  pkgs,
  lib,
  pins,
  system,
}:
let
  wheelOf =
    package: pname:
    let
      pin = pins.${package};
      wheel =
        pin.wheels.${system} or (throw "Cargo.toml: build-tools.${package} has no wheel for ${system}");
    in
    pkgs.fetchPypi {
      inherit pname;
      inherit (pin) version;
      format = "wheel";
      dist = "py3";
      python = "py3";
      inherit (wheel) platform sha256;
    };

  # The release binary as published (statically linked on Linux): unpacked,
  # never stripped or patched.
  zig = pkgs.stdenvNoCC.mkDerivation {
    pname = "zig";
    inherit (pins.ziglang) version;
    src = wheelOf "ziglang" "ziglang";
    nativeBuildInputs = [ pkgs.unzip ];
    unpackPhase = ''
      runHook preUnpack
      unzip -q "$src" 'ziglang/*'
      runHook postUnpack
    '';
    dontConfigure = true;
    dontBuild = true;
    installPhase = ''
      runHook preInstall
      mkdir -p $out/bin $out/lib
      cp -r ziglang $out/lib/zig
      rm -rf $out/lib/zig/__pycache__ $out/lib/zig/*.py
      chmod +x $out/lib/zig/zig
      ln -s $out/lib/zig/zig $out/bin/zig
      runHook postInstall
    '';
    dontStrip = true;
    dontPatchELF = true;
  };

  # A manylinux binary on Linux (glibc and libgcc_s found by autoPatchelf), a
  # universal binary on macOS.
  cargo-zigbuild = pkgs.stdenv.mkDerivation {
    pname = "cargo-zigbuild";
    inherit (pins.cargo-zigbuild) version;
    src = wheelOf "cargo-zigbuild" "cargo_zigbuild";
    nativeBuildInputs = [
      pkgs.unzip
    ]
    ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.autoPatchelfHook ];
    buildInputs = lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.stdenv.cc.cc.lib ];
    unpackPhase = ''
      runHook preUnpack
      unzip -q "$src" 'cargo_zigbuild-*.data/scripts/cargo-zigbuild'
      runHook postUnpack
    '';
    dontConfigure = true;
    dontBuild = true;
    installPhase = ''
      runHook preInstall
      install -Dm755 cargo_zigbuild-*.data/scripts/cargo-zigbuild $out/bin/cargo-zigbuild
      runHook postInstall
    '';
    meta.mainProgram = "cargo-zigbuild";
  };
in
{
  inherit zig cargo-zigbuild;
}
