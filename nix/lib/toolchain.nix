# The toolchains, as rust-overlay `fromRustupToolchain` arguments read from
# rust-toolchain.toml, so that Nix, rustup and xtask build with one pin.
#
#   fromFile :: path -> { build, dev }
let
  devComponents = [
    "rust-analyzer"
    "rust-src"
  ];
in
{
  fromFile =
    file:
    let
      toolchain =
        (builtins.fromTOML (builtins.readFile file)).toolchain
          or (throw "${toString file}: [toolchain] table missing");
      components = toolchain.components or [ ];
    in
    {
      build = toolchain;
      dev = toolchain // {
        components = components ++ builtins.filter (c: !(builtins.elem c components)) devComponents;
      };
    };

  # Cargo's environment-variable spelling of a target triple:
  # aarch64-unknown-linux-musl -> AARCH64_UNKNOWN_LINUX_MUSL
  cargoEnvTarget =
    triple:
    builtins.replaceStrings
      [
        "-"
        "."
        "a"
        "b"
        "c"
        "d"
        "e"
        "f"
        "g"
        "h"
        "i"
        "j"
        "k"
        "l"
        "m"
        "n"
        "o"
        "p"
        "q"
        "r"
        "s"
        "t"
        "u"
        "v"
        "w"
        "x"
        "y"
        "z"
      ]
      [
        "_"
        "_"
        "A"
        "B"
        "C"
        "D"
        "E"
        "F"
        "G"
        "H"
        "I"
        "J"
        "K"
        "L"
        "M"
        "N"
        "O"
        "P"
        "Q"
        "R"
        "S"
        "T"
        "U"
        "V"
        "W"
        "X"
        "Y"
        "Z"
      ]
      triple;

  # The ELF machine `lambda-pack check --machine` expects for a target triple.
  machineOf =
    triple:
    let
      arch = builtins.head (builtins.split "-" triple);
    in
    if arch == "aarch64" || arch == "x86_64" then
      arch
    else
      throw "target ${triple}: lambda-pack checks aarch64 or x86_64 binaries only";
}
