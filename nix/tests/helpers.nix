# The small pure helpers: path arithmetic and the toolchain file.
let
  forge = import ../lib;
  t = import ./lib.nix;
  inherit (forge) paths toolchain;
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
}
