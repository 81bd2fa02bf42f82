#!/usr/bin/env python3
"""Generates the terraform-docs style tables of a module's README.

terraform-docs itself is not installable from the registries this project
uses, so this renders the same markdown (Requirements, Providers, Modules,
Resources, Inputs, Outputs) from the module's *.tf files, which
`terraform fmt` keeps in canonical layout, and writes or checks it between
<!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> in the module's README.md.

    tfdocs.py --check DIR...   exit 1 if a README's tables differ from the .tf files
    tfdocs.py --write DIR...   rewrite the tables
"""
import difflib
import pathlib
import re
import sys

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
BLOCK = re.compile(r'^(variable|output|module|resource|data)\s+"([^"]+)"(?:\s+"([^"]+)")?\s*\{(\})?\s*$')


def blocks(text):
    """Yields (kind, labels, body lines) for each top-level block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = BLOCK.match(lines[i])
        if not m:
            i += 1
            continue
        if m.group(4):  # empty one-line block: `data "x" "y" {}`
            yield m.group(1), (m.group(2), m.group(3)), []
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j] != "}":
            j += 1
        yield m.group(1), (m.group(2), m.group(3)), lines[i + 1 : j]
        i = j + 1


def attributes(body):
    """Top-level `name = value` attributes of a block body (values may span lines)."""
    out, i = {}, 0
    while i < len(body):
        line = body[i]
        m = re.match(r"^  ([a-z_]+)\s*=\s*(.*)$", line)
        if m:
            name, value = m.group(1), [m.group(2)]
            depth = balance(m.group(2))
            while depth > 0 and i + 1 < len(body):
                i += 1
                value.append(body[i][2:] if body[i].startswith("  ") else body[i])
                depth += balance(body[i])
            out[name] = "\n".join(value)
        elif re.match(r"^  [a-z_]+\s*\{\s*$", line):  # nested block (validation, precondition...)
            while i < len(body) and body[i] != "  }":
                i += 1
        i += 1
    return out


def balance(s):
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', s)
    return s.count("{") + s.count("(") + s.count("[") - s.count("}") - s.count(")") - s.count("]")


def unquote(s):
    s = s.strip()
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return s


def cell(s):
    s = s.replace("|", "\\|")
    if "\n" in s:
        return "<pre>" + s.replace("\n", "<br/>") + "</pre>"
    return f"`{s}`"


def anchor(prefix, name):
    escaped = name.replace("_", "\\_")
    return f'<a name="{prefix}_{name}"></a> [{name}](#{prefix}\\_{escaped})'


def render(module_dir):
    parsed = {"variable": [], "output": [], "module": [], "resource": [], "data": []}
    versions = ""
    for tf in sorted(module_dir.glob("*.tf")):
        text = tf.read_text()
        if "required_version" in text:
            versions += text
        for kind, labels, body in blocks(text):
            parsed[kind].append((labels, attributes(body)))

    out = []
    out.append("## Requirements\n")
    out.append("| Name | Version |\n|------|---------|")
    reqs = []
    m = re.search(r'required_version\s*=\s*"([^"]+)"', versions)
    if m:
        reqs.append(("terraform", m.group(1)))
    for name, version in re.findall(r'^\s+([a-z0-9_-]+)\s*=\s*\{\s*\n\s+source\s*=\s*"[^"]+"\s*\n\s+version\s*=\s*"([^"]+)"', versions, re.M):
        reqs.append((name, version))
    for name, version in reqs:
        out.append(f"| {anchor('requirement', name)} | {version} |")

    providers = sorted({labels[0].split("_")[0] for labels, _ in parsed["resource"] + parsed["data"]})
    out.append("\n## Providers\n")
    if providers:
        out.append("| Name | Version |\n|------|---------|")
        for p in providers:
            version = dict(reqs).get(p, "n/a")
            out.append(f"| {anchor('provider', p)} | {version} |")
    else:
        out.append("No providers.")

    out.append("\n## Modules\n")
    if parsed["module"]:
        out.append("| Name | Source | Version |\n|------|--------|---------|")
        for (name, _), attrs in sorted(parsed["module"]):
            out.append(f"| {anchor('module', name)} | {unquote(attrs.get('source', ''))} | n/a |")
    else:
        out.append("No modules.")

    out.append("\n## Resources\n")
    res = sorted(
        [(f"{t}.{n}", "resource", t) for (t, n), _ in parsed["resource"]]
        + [(f"{t}.{n}", "data source", t) for (t, n), _ in parsed["data"]]
    )
    if res:
        out.append("| Name | Type |\n|------|------|")
        for addr, kind, rtype in res:
            prov, _, short = rtype.partition("_")
            section = "resources" if kind == "resource" else "data-sources"
            out.append(f"| [{addr}](https://registry.terraform.io/providers/hashicorp/{prov}/latest/docs/{section}/{short}) | {kind} |")
    else:
        out.append("No resources.")

    out.append("\n## Inputs\n")
    if parsed["variable"]:
        out.append("| Name | Description | Type | Default | Required |\n|------|-------------|------|---------|:--------:|")
        for (name, _), attrs in sorted(parsed["variable"]):
            desc = unquote(attrs.get("description", "")).replace("|", "\\|")
            typ = cell(attrs.get("type", "any"))
            if "default" in attrs:
                out.append(f"| {anchor('input', name)} | {desc} | {typ} | {cell(attrs['default'])} | no |")
            else:
                out.append(f"| {anchor('input', name)} | {desc} | {typ} | n/a | yes |")
    else:
        out.append("No inputs.")

    out.append("\n## Outputs\n")
    if parsed["output"]:
        out.append("| Name | Description |\n|------|-------------|")
        for (name, _), attrs in sorted(parsed["output"]):
            desc = unquote(attrs.get("description", "")).replace("|", "\\|")
            out.append(f"| {anchor('output', name)} | {desc} |")
    else:
        out.append("No outputs.")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 3 or argv[1] not in ("--check", "--write"):
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for d in argv[2:]:
        module_dir = pathlib.Path(d)
        readme = module_dir / "README.md"
        text = readme.read_text() if readme.exists() else ""
        if BEGIN not in text or END not in text:
            print(f"tfdocs: {readme} has no {BEGIN} ... {END} section", file=sys.stderr)
            failed = True
            continue
        head, rest = text.split(BEGIN, 1)
        current, tail = rest.split(END, 1)
        wanted = "\n" + render(module_dir)
        if argv[1] == "--write":
            readme.write_text(head + BEGIN + wanted + END + tail)
        elif current != wanted:
            failed = True
            print(f"tfdocs: {readme} is out of date; run terraform/scripts/tfdocs.py --write {d}", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "README.md", "generated"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
