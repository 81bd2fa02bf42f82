# crateNameFromCargoToml and internalCrateNameFromCargoToml: the name from
# package.metadata.crane.name, package.name, workspace.metadata.crane.name or
# (deprecated) workspace.package.name; the version from package.version or
# workspace.package.version; else a placeholder and a warning.
{ lib }:
args:
let
  src = args.src.origSrc or args.src or (throw "unable to infer crate name and version");
  cargoToml = args.cargoToml or (src + "/Cargo.toml");
  contents =
    args.cargoTomlContents or (
      if builtins.pathExists cargoToml then
        builtins.readFile cargoToml
      else
        throw "unable to infer crate name and version: no ${toString cargoToml}"
    );
  toml = builtins.fromTOML (builtins.unsafeDiscardStringContext contents);
  firstString = lib.findFirst builtins.isString null;
  pname = firstString [
    (toml.package.metadata.crane.name or null)
    (toml.package.name or null)
    (toml.workspace.metadata.crane.name or null)
    (lib.warnIf (toml.workspace.package.name or null != null)
      "`workspace.package.name` is deprecated, please use `workspace.metadata.crane.name`"
      (toml.workspace.package.name or null)
    )
  ];
  version = firstString [
    (toml.package.version or null)
    (toml.workspace.package.version or null)
  ];
  placeholder =
    tomlName: drvName: value:
    lib.warn "crane will use a placeholder value since `${tomlName}` cannot be found in ${toString cargoToml}; set `${drvName}` or `workspace.metadata.crane.${tomlName}`" value;
in
{
  pname = if pname != null then pname else placeholder "name" "pname" "cargo-package";
  version = if version != null then version else placeholder "version" "version" "0.0.1";
}
