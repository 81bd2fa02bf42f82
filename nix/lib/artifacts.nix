# The artifact set, read from the workspace with builtins only (no nixpkgs),
# following docs/artifacts.md exactly as `lambda-pack artifacts` does:
#   root Cargo.toml        [workspace.metadata.lambda]  (target, limits, ...)
#   crates/*/Cargo.toml    [package.metadata.lambda]    (one artifact each)
# Anything the declaration gets wrong is a `throw` naming the file and key, so
# a broken declaration fails evaluation instead of building the wrong thing.
#
#   load :: path -> { workspace, artifacts, byName, functions, layers, crates, closureOf,
#                     declaration }
let
  paths = import ./paths.nix;

  fail =
    file: key: message:
    throw "${file}: ${key}: ${message}";

  isPositiveInt = v: builtins.isInt v && v > 0;

  # AWS's own bounds for a function's settings.
  memoryRange = {
    min = 128;
    max = 10240;
  };
  timeoutRange = {
    min = 1;
    max = 900;
  };

  # Names become file names and Lambda resource names.
  namePattern = "[A-Za-z0-9_-]{1,64}";

  architectures = [
    "arm64"
    "x86_64"
  ];

  requireName =
    file: key: v:
    if builtins.isString v && builtins.match namePattern v != null then
      v
    else
      fail file key "invalid name ${builtins.toJSON v}: use 1 to 64 of A-Z a-z 0-9 - _";

  requireTable =
    file: key: v:
    if builtins.isAttrs v then v else fail file key "missing or not a table";

  requireString =
    file: key: v:
    if builtins.isString v && v != "" then v else fail file key "must be a non-empty string";

  requirePositiveInt =
    file: key: v:
    if isPositiveInt v then v else fail file key "must be a positive integer";

  requireKeys =
    file: prefix: allowed: attrs:
    let
      unknown = builtins.filter (k: !(builtins.elem k allowed)) (builtins.attrNames attrs);
    in
    if unknown == [ ] then
      attrs
    else
      fail file "${prefix}.${builtins.head unknown}"
        "unknown key (allowed: ${builtins.concatStringsSep ", " allowed})";

  readToml = file: builtins.fromTOML (builtins.readFile file);

  # Routes (docs/artifacts.md, section 1), the rules `lambda-pack` applies:
  # one method of `methods`, a path API Gateway can express.
  methods = [
    "GET"
    "POST"
    "PUT"
    "PATCH"
    "DELETE"
    "HEAD"
    "ANY"
  ];

  # "/users/{id}" -> [ "users" "{id}" ]; null when the path does not start
  # with "/".
  pathParts =
    path:
    let
      parts = builtins.filter builtins.isString (builtins.split "/" path);
    in
    if builtins.head parts == "" then builtins.tail parts else null;

  variableName = seg: builtins.match "[{]([A-Za-z_][A-Za-z0-9_]*)[+]?[}]" seg;

  # Why `path` cannot be a route, or null when it can.
  pathProblem =
    path:
    let
      parts = pathParts path;
      count = builtins.length parts;
      indexed = builtins.genList (i: {
        inherit i;
        seg = builtins.elemAt parts i;
      }) count;
      bad = builtins.filter (
        p:
        p.seg == ""
        || (
          builtins.match "[A-Za-z0-9._-]+" p.seg == null
          && builtins.match "[{][A-Za-z_][A-Za-z0-9_]*[}]" p.seg == null
          && !(p.i == count - 1 && builtins.match "[{][A-Za-z_][A-Za-z0-9_]*[+][}]" p.seg != null)
        )
      ) indexed;
      names = builtins.concatMap (
        seg:
        let
          m = variableName seg;
        in
        if m == null then [ ] else m
      ) parts;
      repeated = builtins.filter (n: builtins.length (builtins.filter (m: m == n) names) > 1) names;
    in
    if !(builtins.isString path) || parts == null || parts == [ ] then
      "must be a string starting with /"
    else if bad != [ ] then
      "segment ${builtins.toJSON (builtins.head bad).seg} is empty or not a literal of A-Z a-z 0-9 . _ -, {name} or a final {name+}"
    else if repeated != [ ] then
      "parameter \"${builtins.head repeated}\" appears twice"
    else
      null;

  requireRoute =
    file: key: r:
    let
      route = requireKeys file key [ "method" "path" "authorized" ] (
        if builtins.isAttrs r then r else fail file key "must be a table { method, path, authorized }"
      );
      method = route.method or null;
      problem = pathProblem (route.path or null);
    in
    if !(builtins.elem method methods) then
      fail file "${key}.method"
        "must be one of ${builtins.concatStringsSep " " methods} (OPTIONS is generated, never declared)"
    else if problem != null then
      fail file "${key}.path" problem
    else if !(builtins.isBool (route.authorized or null)) then
      fail file "${key}.authorized" "must be true or false"
    else
      { inherit (route) method path authorized; };

  # Rules across every function's routes: one function per method and path
  # (ANY overlaps every method of its path, except within one function),
  # one parameter (name and kind) per position of the resource tree.
  routeConflict =
    claims:
    let
      keyOf = c: "${c.route.method} ${c.route.path}";
      keys = map keyOf claims;
      duplicate = builtins.filter (k: builtins.length (builtins.filter (m: m == k) keys) > 1) keys;
      overlapping = builtins.filter (
        a:
        a.route.method == "ANY"
        && builtins.any (b: b.route.path == a.route.path && b.function != a.function) claims
      ) claims;
      # One { parent, written } per parameter segment of every route.
      positions = builtins.concatMap (
        c:
        let
          parts = pathParts c.route.path;
        in
        builtins.concatMap (
          i:
          let
            seg = builtins.elemAt parts i;
          in
          if variableName seg == null then
            [ ]
          else
            [
              {
                parent = builtins.concatStringsSep "/" (builtins.genList (j: builtins.elemAt parts j) i);
                written = seg;
              }
            ]
        ) (builtins.genList (i: i) (builtins.length parts))
      ) claims;
      clashing = builtins.filter (
        p: builtins.any (q: q.parent == p.parent && q.written != p.written) positions
      ) positions;
    in
    if duplicate != [ ] then
      "route ${builtins.head duplicate} is declared more than once"
    else if overlapping != [ ] then
      "route ${keyOf (builtins.head overlapping)} overlaps a route of another function on its path"
    else if clashing != [ ] then
      "two parameters under /${(builtins.head clashing).parent}: API Gateway allows one per position"
    else
      null;

  loadWorkspace =
    root:
    let
      file = "Cargo.toml";
      toml = readToml (root + "/Cargo.toml");
      meta =
        toml.workspace.metadata.lambda or (fail file "workspace.metadata.lambda"
          "missing: the workspace must declare its artifact settings"
        );
      key = "workspace.metadata.lambda";
      checked = requireKeys file key [
        "target"
        "architecture"
        "runtime"
        "handler"
        "limits"
        "external_layers"
        "preflight"
      ] meta;
      limits = requireKeys file "${key}.limits" [
        "max_zip_bytes"
        "max_unzipped_bytes"
        "max_layers"
      ] (requireTable file "${key}.limits" (checked.limits or null));
      external = requireTable file "${key}.external_layers" (checked.external_layers or { });
    in
    {
      target = requireString file "${key}.target" (checked.target or null);
      architecture =
        let
          a = requireString file "${key}.architecture" (checked.architecture or null);
        in
        if builtins.elem a architectures then
          a
        else
          fail file "${key}.architecture"
            "\"${a}\" is not a Lambda architecture (expected \"arm64\" or \"x86_64\")";
      runtime = requireString file "${key}.runtime" (checked.runtime or null);
      handler = requireString file "${key}.handler" (checked.handler or null);
      preflight =
        if checked ? preflight then requireString file "${key}.preflight" checked.preflight else null;
      limits = builtins.mapAttrs (n: v: requirePositiveInt file "${key}.limits.${n}" v) limits;
      external_layers = builtins.mapAttrs (
        n: v:
        let
          k = "${key}.external_layers.${requireName file "${key}.external_layers.${n}" n}";
          layer = requireKeys file k [ "unzipped_bytes" ] (
            if builtins.isAttrs v then v else fail file k "must be a table"
          );
        in
        {
          unzipped_bytes = requirePositiveInt file "${k}.unzipped_bytes" (layer.unzipped_bytes or null);
        }
      ) external;
      workspaceDependencies = toml.workspace.dependencies or { };
    };

  # Workspace members as cargo and `lambda-pack` expand them: plain paths and
  # the `dir/*` form (every directory under dir holding a Cargo.toml), minus
  # `exclude`; keyed by workspace-relative directory.
  loadCrates =
    root:
    let
      file = "Cargo.toml";
      toml = readToml (root + "/Cargo.toml");
      ws = toml.workspace or (fail file "workspace" "missing [workspace] table");
      stringList =
        key: v:
        if builtins.isList v && builtins.all builtins.isString v then
          v
        else
          fail file key "expected a list of strings";
      patterns = stringList "workspace.members" (ws.members or [ ]);
      exclude = map paths.normalize (stringList "workspace.exclude" (ws.exclude or [ ]));
      isGlob = s: builtins.match ".*[][*?].*" s != null;
      expand =
        pattern:
        let
          parent = builtins.substring 0 (builtins.stringLength pattern - 2) pattern;
          entries = builtins.readDir (root + "/${parent}");
        in
        if builtins.match ".*/[*]" pattern != null && !(isGlob parent) then
          map (n: paths.join parent n) (
            builtins.filter (
              n:
              builtins.elem entries.${n} [
                "directory"
                "symlink"
              ]
              && builtins.pathExists (root + "/${parent}/${n}/Cargo.toml")
            ) (builtins.attrNames entries)
          )
        else if isGlob pattern then
          fail file "workspace.members"
            "unsupported glob \"${pattern}\": only plain paths and \"dir/*\" are understood"
        else
          [ (paths.normalize pattern) ];
      members = builtins.filter (d: !(builtins.elem d exclude)) (
        builtins.concatLists (map expand patterns)
      );
    in
    builtins.listToAttrs (
      map (dir: {
        name = dir;
        value = {
          inherit dir;
          file = "${dir}/Cargo.toml";
          toml = readToml (root + "/${dir}/Cargo.toml");
          hasSmoke = builtins.pathExists (root + "/${dir}/smoke.json");
        };
      }) members
    );

  declare =
    workspace: crate:
    let
      file = crate.file;
      key = "package.metadata.lambda";
      package = requireString file "package.name" (crate.toml.package.name or null);
      raw = crate.toml.package.metadata.lambda;
      meta = requireKeys file key [
        "kind"
        "name"
        "binary"
        "memory_mb"
        "timeout_s"
        "layers"
        "routes"
        "budget"
      ] (if builtins.isAttrs raw then raw else fail file key "must be a table");
      kind = meta.kind or null;
      name = meta.name or package;
      binary = meta.binary or package;
      layers = meta.layers or [ ];
      rawRoutes = meta.routes or [ ];
      budget = meta.budget or null;
      inRange = range: v: builtins.isInt v && v >= range.min && v <= range.max;
      functionOnly = builtins.filter (k: meta ? ${k}) [
        "memory_mb"
        "timeout_s"
        "layers"
        "routes"
      ];
      # Checked in this order; the first that applies is reported.
      problems = [
        {
          bad = kind != "function" && kind != "extension";
          at = "kind";
          why = "must be \"function\" or \"extension\", not ${builtins.toJSON kind}";
        }
        {
          bad = !(builtins.isString name && builtins.match namePattern name != null);
          at = "name";
          why = "invalid name ${builtins.toJSON name}: use 1 to 64 of A-Z a-z 0-9 - _";
        }
        {
          bad = !(builtins.isString binary && binary != "" && builtins.match ".*[/\\].*" binary == null);
          at = "binary";
          why = "${builtins.toJSON binary} must be a cargo bin target name, not a path";
        }
        {
          bad = !(builtins.isAttrs budget);
          at = "budget";
          why = "missing: every artifact needs budget = { zip_bytes = ..., unzipped_bytes = ... }";
        }
        {
          bad = kind == "extension" && functionOnly != [ ];
          at = builtins.head functionOnly;
          why = "only functions take this key";
        }
        {
          bad = kind == "function" && !(inRange memoryRange (meta.memory_mb or null));
          at = "memory_mb";
          why = "must be an integer from ${toString memoryRange.min} to ${toString memoryRange.max}";
        }
        {
          bad = kind == "function" && !(inRange timeoutRange (meta.timeout_s or null));
          at = "timeout_s";
          why = "must be an integer from ${toString timeoutRange.min} to ${toString timeoutRange.max}";
        }
        {
          bad = !(builtins.isList layers && builtins.all builtins.isString layers);
          at = "layers";
          why = "must be a list of layer names";
        }
        {
          bad = !(builtins.isList rawRoutes);
          at = "routes";
          why = "must be a list of route tables";
        }
      ];
      found = builtins.filter (p: p.bad) problems;
      checkedBudget = requireKeys file "${key}.budget" [ "zip_bytes" "unzipped_bytes" ] budget;
    in
    if found != [ ] then
      fail file "${key}.${(builtins.head found).at}" (builtins.head found).why
    else
      {
        inherit
          name
          kind
          package
          binary
          layers
          ;
        routes = builtins.genList (
          i: requireRoute file "${key}.routes[${toString i}]" (builtins.elemAt rawRoutes i)
        ) (builtins.length rawRoutes);
        memory_mb = if kind == "function" then meta.memory_mb else null;
        timeout_s = if kind == "function" then meta.timeout_s else null;
        budget = {
          zip_bytes = requirePositiveInt file "${key}.budget.zip_bytes" (checkedBudget.zip_bytes or null);
          unzipped_bytes = requirePositiveInt file "${key}.budget.unzipped_bytes" (
            checkedBudget.unzipped_bytes or null
          );
        };
        # Not part of the `lambda-pack artifacts` JSON: where the crate lives.
        inherit (crate) dir file hasSmoke;
      };

  # Cross-artifact rules: unique names, layers that exist and are layers, the
  # AWS layer count.
  validateSet =
    workspace: artifacts:
    let
      names = map (a: a.name) artifacts;
      duplicate = builtins.filter (n: builtins.length (builtins.filter (m: m == n) names) > 1) names;
      extensionNames = map (a: a.name) (builtins.filter (a: a.kind == "extension") artifacts);
      clash = builtins.filter (n: workspace.external_layers ? ${n}) names;
      checkLayers =
        a:
        let
          key = "package.metadata.lambda.layers";
          unknown = builtins.filter (
            l: !(builtins.elem l extensionNames) && !(workspace.external_layers ? ${l})
          ) a.layers;
          repeated = builtins.filter (l: builtins.length (builtins.filter (m: m == l) a.layers) > 1) a.layers;
        in
        if unknown != [ ] then
          fail a.file key
            "\"${builtins.head unknown}\" is neither a layer of this workspace nor an external layer"
        else if repeated != [ ] then
          fail a.file key "\"${builtins.head repeated}\" is listed twice"
        else if builtins.length a.layers > workspace.limits.max_layers then
          fail a.file key
            "${toString (builtins.length a.layers)} layers, AWS allows ${toString workspace.limits.max_layers}"
        else
          a;
      functionNames = map (a: a.name) (builtins.filter (a: a.kind == "function") artifacts);
      claims = builtins.concatMap (
        a:
        map (route: {
          function = a.name;
          inherit route;
        }) a.routes
      ) (builtins.sort (a: b: a.name < b.name) artifacts);
      conflict = routeConflict claims;
    in
    if duplicate != [ ] then
      throw "artifact name \"${builtins.head duplicate}\" is declared by more than one crate"
    else if clash != [ ] then
      throw "artifact name \"${builtins.head clash}\" is also an external layer in Cargo.toml"
    else if workspace.preflight != null && !(builtins.elem workspace.preflight functionNames) then
      fail "Cargo.toml" "workspace.metadata.lambda.preflight"
        "\"${workspace.preflight}\" is not a function of this workspace"
    else if conflict != null then
      throw "package.metadata.lambda.routes: ${conflict}"
    else
      map checkLayers artifacts;

  # Path dependencies (normal, build and dev, any target) of one crate, as
  # workspace-relative directories: cargo loads all of them to resolve the
  # workspace, so a per-crate source tree must hold them.
  pathDepsOf =
    workspace: crate:
    let
      sections =
        t:
        map (s: t.${s} or { }) [
          "dependencies"
          "build-dependencies"
          "dev-dependencies"
        ];
      targetTables = builtins.attrValues (crate.toml.target or { });
      tables = sections crate.toml ++ builtins.concatLists (map sections targetTables);
      depPath =
        depName: spec:
        if builtins.isAttrs spec && (spec.workspace or false) then
          let
            ws = workspace.workspaceDependencies.${depName} or { };
          in
          if builtins.isAttrs ws && ws ? path then paths.normalize ws.path else null
        else if builtins.isAttrs spec && spec ? path then
          paths.join crate.dir spec.path
        else
          null;
      found = builtins.concatLists (map (t: builtins.attrValues (builtins.mapAttrs depPath t)) tables);
    in
    builtins.filter (p: p != null) found;

  load =
    root:
    let
      workspace = loadWorkspace root;
      crates = loadCrates root;
      declared = builtins.filter (c: c.toml.package.metadata.lambda or null != null) (
        builtins.attrValues crates
      );
      # deepSeq: a bad workspace setting fails every use of the set, not
      # only the uses that happen to read it.
      artifacts = builtins.deepSeq workspace (
        builtins.sort (a: b: a.name < b.name) (validateSet workspace (map (declare workspace) declared))
      );
      byDir = crates;
      # Transitive closure over path dependencies, starting from one crate dir.
      closureOf =
        dir:
        let
          step =
            seen: todo:
            if todo == [ ] then
              seen
            else
              let
                d = builtins.head todo;
                rest = builtins.tail todo;
              in
              if builtins.elem d seen then
                step seen rest
              else if !(byDir ? ${d}) then
                throw "${dir}: path dependency ${d} is not a crate of this workspace"
              else
                step (seen ++ [ d ]) (rest ++ pathDepsOf workspace byDir.${d});
        in
        builtins.sort builtins.lessThan (step [ ] [ dir ]);
    in
    {
      inherit workspace artifacts closureOf;
      byName = builtins.listToAttrs (
        map (a: {
          inherit (a) name;
          value = a;
        }) artifacts
      );
      functions = builtins.filter (a: a.kind == "function") artifacts;
      layers = builtins.filter (a: a.kind == "extension") artifacts;
      crates = builtins.attrNames crates;
      # Exactly the objects `lambda-pack artifacts` prints.
      declaration = map (a: {
        inherit (a)
          name
          kind
          package
          binary
          memory_mb
          timeout_s
          layers
          routes
          budget
          ;
        preflight = a.name == workspace.preflight;
      }) artifacts;
    };
in
{
  inherit load;
}
