# fetchPypi's arguments as nixpkgs has them at the locked revision
# (pkgs/build-support/fetchpypi): the wheel file name from its parts.
{ fetchurl }:
{
  format ? "setuptools",
  sha256 ? "",
  hash ? "",
  pname,
  version,
  ...
}@attrs:
let
  wheel =
    {
      pname,
      version,
      dist ? "py2.py3",
      python ? "py2.py3",
      abi ? "none",
      platform ? "any",
    }:
    "pypi/${dist}/${pname}/${pname}-${version}-${python}-${abi}-${platform}.whl";
  source =
    {
      pname,
      version,
      extension ? "tar.gz",
    }:
    "pypi/${pname}/${pname}-${version}.${extension}";
  url =
    (
      if format == "wheel" then
        wheel
      else if format == "setuptools" then
        source
      else
        throw "Unsupported format ${format}"
    )
      (
        builtins.removeAttrs attrs [
          "format"
          "sha256"
          "hash"
        ]
      );
in
fetchurl { inherit url sha256 hash; }
