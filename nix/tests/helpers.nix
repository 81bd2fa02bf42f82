# The small pure helpers: path arithmetic and the toolchain file.
let
  forge = import ../lib;
  t = import ./lib.nix;
  inherit (forge) paths toolchain buildTools;
  pins = buildTools.fromFile ../../Cargo.toml;
  pinsOf = text: buildTools.fromToml (builtins.fromTOML text);
  dev = (toolchain.fromFile ../../rust-toolchain.toml).dev;
  build = (toolchain.fromFile ../../rust-toolchain.toml).build;
in
t.run "helpers" {
  normalize_drops_dot_segments_and_resolves_parents = {
    actual = paths.normalize "./crates/a/../b/./";
    expected = "crates/b";
  };

  join_resolves_a_crate_relative_path = {
    actual = paths.join "crates/sms" "../env-config";
    expected = "crates/env-config";
  };

  join_refuses_to_leave_the_workspace = {
    actual = t.throws (paths.join "crates" "../../etc");
    expected = true;
  };

  dev_toolchain_adds_rust_analyzer_and_rust_src_once = {
    actual = {
      inherit (dev) channel targets;
      components = builtins.filter (
        c:
        builtins.elem c [
          "rust-analyzer"
          "rust-src"
        ]
      ) dev.components;
    };
    expected = {
      inherit (build) channel targets;
      components = [
        "rust-analyzer"
        "rust-src"
      ];
    };
  };

  build_toolchain_targets_aarch64_musl = {
    actual = builtins.elem "aarch64-unknown-linux-musl" build.targets;
    expected = true;
  };

  cargo_env_spelling_of_the_target = {
    actual = toolchain.cargoEnvTarget "aarch64-unknown-linux-musl";
    expected = "AARCH64_UNKNOWN_LINUX_MUSL";
  };

  elf_machine_of_the_target = {
    actual = map toolchain.machineOf [
      "aarch64-unknown-linux-musl"
      "x86_64-unknown-linux-musl"
    ];
    expected = [
      "aarch64"
      "x86_64"
    ];
  };

  unknown_machine_throws = {
    actual = t.throws (toolchain.machineOf "riscv64gc-unknown-linux-musl");
    expected = true;
  };

  build_tools_pin_zig_and_cargo_zigbuild_with_a_wheel_per_system = {
    actual = {
      zig = pins.ziglang.version;
      zigbuild = pins.cargo-zigbuild.version;
      systems = builtins.attrNames pins.ziglang.wheels;
    };
    expected = {
      zig = "0.15.2";
      zigbuild = "0.22.3";
      systems = [
        "aarch64-darwin"
        "aarch64-linux"
        "x86_64-linux"
      ];
    };
  };

  build_tools_refuse_a_wheel_without_a_hex_sha256 = {
    actual = t.throws (
      (pinsOf ''
        [workspace.metadata.build-tools.ziglang]
        version = "0.15.2"
        wheels.x86_64-linux = { platform = "any", sha256 = "not-hex" }
        wheels.aarch64-linux = { platform = "any", sha256 = "not-hex" }
        wheels.aarch64-darwin = { platform = "any", sha256 = "not-hex" }
        [workspace.metadata.build-tools.cargo-zigbuild]
        version = "0.22.3"
      '').ziglang.wheels.x86_64-linux
    );
    expected = true;
  };
}
