# Pure helpers: builtins only, no nixpkgs, so that CI can evaluate and test
# them with `nix-instantiate --eval --strict` (see nix/tests/).
{
  artifacts = import ./artifacts.nix;
  buildTools = import ./build-tools.nix;
  names = import ./names.nix;
  paths = import ./paths.nix;
  toolchain = import ./toolchain.nix;
}
