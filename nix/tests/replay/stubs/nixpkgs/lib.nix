# A stand-in for nixpkgs' `lib`, written for the replay (nix/tests/replay):
# CI cannot fetch nixpkgs, so this covers exactly the functions the flake and
# the crane stand-in call, with nixpkgs' semantics as documented (lib.fileset
# included: a file set is the set of files under its paths, and toSource
# copies exactly those files, as `builtins.path` with a filter does).
# Anything else is missing on purpose: a new call fails the replay until it
# is added here.
let
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    filter
    foldl'
    listToAttrs
    map
    stringLength
    substring
    ;

  hasPrefix = pre: s: substring 0 (stringLength pre) s == pre;
  hasSuffix =
    suf: s:
    let
      ls = stringLength s;
      lf = stringLength suf;
    in
    lf <= ls && substring (ls - lf) lf s == suf;

  warn = msg: v: builtins.trace "evaluation warning: ${msg}" v;

  # Nix 2.8 (Debian's, what CI has) lacks builtins.readFileType (Nix 2.14).
  readFileType =
    builtins.readFileType or (path: (builtins.readDir (dirOf path)).${baseNameOf (toString path)});

  # File sets: { _type = "fileset"; files = { "/abs/path" = true; ... }; }
  isFileset = v: builtins.isAttrs v && (v._type or null) == "fileset";
  mkFileset = paths: {
    _type = "fileset";
    files = listToAttrs (
      map (p: {
        name = p;
        value = true;
      }) paths
    );
  };
  # Every file under `path` (or the file itself) whose { name, type, hasExt }
  # satisfies `pred`.
  walk =
    pred: path:
    let
      type = readFileType path;
      entries = builtins.readDir path;
    in
    if type == "directory" then
      concatLists (
        map (
          name:
          let
            t = entries.${name};
            p = "${toString path}/${name}";
          in
          if t == "directory" then
            walk pred (path + "/${name}")
          else if
            pred {
              inherit name;
              type = t;
              hasExt = ext: hasSuffix ".${ext}" name;
            }
          then
            [ p ]
          else
            [ ]
        ) (attrNames entries)
      )
    else
      let
        name = baseNameOf (toString path);
      in
      if
        pred {
          inherit name type;
          hasExt = ext: hasSuffix ".${ext}" name;
        }
      then
        [ (toString path) ]
      else
        [ ];
  coerce =
    v:
    if isFileset v then
      v
    else if builtins.isPath v then
      if builtins.pathExists v then
        mkFileset (walk (_: true) v)
      else
        throw "lib.fileset: ${toString v} does not exist (use lib.fileset.maybeMissing)"
    else
      throw "lib.fileset: expected a file set or a path, got a ${builtins.typeOf v}";
  filesOf = fs: attrNames (coerce fs).files;

  fileset = {
    maybeMissing = path: if builtins.pathExists path then coerce path else mkFileset [ ];
    unions = sets: mkFileset (concatLists (map filesOf sets));
    union =
      a: b:
      fileset.unions [
        a
        b
      ];
    difference =
      a: b:
      let
        drop = (coerce b).files;
      in
      mkFileset (filter (p: !(drop ? ${p})) (filesOf a));
    intersection =
      a: b:
      let
        keep = (coerce b).files;
      in
      mkFileset (filter (p: keep ? ${p}) (filesOf a));
    fileFilter = pred: path: mkFileset (walk pred path);
    toSource =
      { root, fileset }:
      let
        files = (coerce fileset).files;
        rootStr = toString root;
        outside = filter (p: !(hasPrefix "${rootStr}/" p)) (attrNames files);
        dirs = listToAttrs (
          concatLists (
            map (
              p:
              let
                parts = filter builtins.isString (builtins.split "/" (substring (stringLength rootStr + 1) (-1) p));
                prefixes = builtins.genList (
                  i: concatStringsSep "/" (builtins.genList (j: builtins.elemAt parts j) (i + 1))
                ) (builtins.length parts - 1);
              in
              map (d: {
                name = "${rootStr}/${d}";
                value = true;
              }) prefixes
            ) (attrNames files)
          )
        );
        filter' = path: type: if type == "directory" then dirs ? ${path} else files ? ${path};
      in
      if outside != [ ] then
        throw "lib.fileset.toSource: ${builtins.head outside} is not under root ${rootStr}"
      else
        {
          _isLibCleanSourceWith = true;
          origSrc = root;
          filter = filter';
          name = "source";
          outPath = builtins.path {
            path = root;
            name = "source";
            filter = filter';
          };
        };
  };

  cleanSourceWith =
    {
      src,
      filter ? _: _: true,
      name ? null,
    }:
    let
      orig = src.origSrc or src;
      outer = src.filter or (_: _: true);
      both = path: type: outer path type && filter path type;
      n = if name != null then name else src.name or "source";
    in
    {
      _isLibCleanSourceWith = true;
      origSrc = orig;
      filter = both;
      name = n;
      outPath = builtins.path {
        path = orig;
        name = n;
        filter = both;
      };
    };

  versionOlder = a: b: builtins.compareVersions a b < 0;

  lib = rec {
    inherit
      hasPrefix
      hasSuffix
      warn
      fileset
      cleanSourceWith
      versionOlder
      ;
    version = "26.05pre-stub";
    trivial = {
      inherit warn;
      inherit version;
      flip =
        f: a: b:
        f b a;
    };
    strings = {
      inherit hasPrefix hasSuffix;
      escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s)}'";
    };
    inherit (strings) escapeShellArg;
    flip = trivial.flip;
    warnIf = cond: msg: if cond then warn msg else v: v;
    assertMsg = pred: msg: pred || throw msg;
    isFunction = builtins.isFunction;
    genAttrs =
      names: f:
      listToAttrs (
        map (n: {
          name = n;
          value = f n;
        }) names
      );
    getName =
      x:
      if builtins.isAttrs x then
        x.pname or (builtins.parseDrvName x.name).name
      else
        (builtins.parseDrvName x).name;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalString = cond: s: if cond then s else "";
    optionalAttrs = cond: as: if cond then as else { };
    mapAttrs = builtins.mapAttrs;
    mapAttrsToList = f: as: map (n: f n as.${n}) (attrNames as);
    filterAttrs =
      pred: as:
      listToAttrs (
        concatLists (
          map (
            n:
            if pred n as.${n} then
              [
                {
                  name = n;
                  value = as.${n};
                }
              ]
            else
              [ ]
          ) (attrNames as)
        )
      );
    concatMapAttrs = f: as: foldl' (acc: n: acc // f n as.${n}) { } (attrNames as);
    mergeAttrsList = foldl' (a: b: a // b) { };
    concatMapStrings = f: xs: concatStringsSep "" (map f xs);
    concatMapStringsSep =
      sep: f: xs:
      concatStringsSep sep (map f xs);
    concatStringsSep = builtins.concatStringsSep;
    elem = builtins.elem;
    findFirst =
      pred: default: xs:
      let
        found = filter pred xs;
      in
      if found == [ ] then default else builtins.head found;
    lists = {
      inherit findFirst;
      optional = optional;
    };
    isString = builtins.isString;
    sources = {
      sourceFilesBySuffices =
        src: exts:
        cleanSourceWith {
          inherit src;
          filter =
            path: type: type == "directory" || builtins.any (ext: hasSuffix ext (baseNameOf path)) exts;
        };
    };
    asserts.assertMsg = assertMsg;
    # lib.meta.getExe: the `bin` output's bin/<meta.mainProgram>, warning
    # (as nixpkgs does) when the package names no main program.
    getExe =
      x:
      "${x.bin or x.out or x}/bin/${
        x.meta.mainProgram
          or (warn "getExe: Package ${x.name or "<unnamed>"} does not have the meta.mainProgram attribute." (
            getName x
          ))
      }";
  };
in
lib
