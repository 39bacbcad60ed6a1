#!/usr/bin/env python3
"""Generates docs/configuration.md from the configuration's serde mirror
(src/config/*.rs): every key `gateway.toml` accepts, with its type and the
doc comment on its field (meaning, default, example). One source of truth:
a key is documented where it is declared.

    scripts/gen-config-docs.py           # rewrite docs/configuration.md
    scripts/gen-config-docs.py --check   # exit 1 if it is not current, or a key has no doc
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "configuration.md"


def parse(sources):
    """{name: ("struct", doc, attrs, fields) | ("enum", doc, attrs, variants)}"""
    items = {}
    for src in sources:
        lines = src.split("\n")
        i, doc, attrs = 0, [], []
        while i < len(lines):
            line = lines[i].strip()
            if line.startswith("///"):
                doc.append(line[3:].strip())
            elif line.startswith("#["):
                attrs.append(line)
            elif m := re.match(r"pub (struct|enum) (\w+) \{$", line):
                kind, name = m.groups()
                body, i = [], i + 1
                while lines[i].strip() != "}":
                    body.append(lines[i])
                    i += 1
                items[name] = (kind, " ".join(doc), " ".join(attrs), members(body, kind))
                doc, attrs = [], []
            elif line and not line.startswith("//"):
                doc, attrs = [], []
            i += 1
    return items


def members(body, kind):
    out, doc, attrs = [], [], []
    for raw in body:
        line = raw.strip()
        if line.startswith("///"):
            doc.append(line[3:].strip())
        elif line.startswith("#["):
            attrs.append(line)
        elif kind == "struct" and (m := re.match(r"pub (\w+): (.+),$", line)):
            out.append((m.group(1), m.group(2), " ".join(doc), " ".join(attrs)))
            doc, attrs = [], []
        elif kind == "enum" and (m := re.match(r"(\w+)(?:\((.+)\))?,$", line)):
            out.append((m.group(1), m.group(2), " ".join(doc), " ".join(attrs)))
            doc, attrs = [], []
    return out


def kebab(name):
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


SCALARS = {"String": "string", "bool": "boolean", "u8": "integer", "u16": "integer", "u32": "integer",
           "u64": "integer", "usize": "integer", "i64": "integer", "f64": "number"}


def unwrap(ty):
    for wrapper in ("Option<", "Box<"):
        if ty.startswith(wrapper) and ty.endswith(">"):
            return unwrap(ty[len(wrapper):-1])
    return ty.split("::")[-1]


def walk(items, struct, prefix, rows, missing):
    kind, _, _, fields = items[struct]
    for name, ty, doc, attrs in fields:
        key = prefix + name
        if "flatten" in attrs:
            walk(items, unwrap(ty), prefix, rows, missing)
            continue
        t = unwrap(ty)
        if t.startswith("Vec<"):
            inner = unwrap(t[4:-1])
            if inner in items and items[inner][0] == "struct":
                rows.append((key, "array of tables", doc))
                walk(items, inner, key + "[].", rows, missing)
            else:
                rows.append((key, f"list of {SCALARS.get(inner, inner)}s", doc))
        elif t.startswith("BTreeMap<String, "):
            inner = unwrap(t[len("BTreeMap<String, "):-1])
            rows.append((key + ".NAME", "table per name", doc or items.get(inner, ("", ""))[1]))
            descend(items, inner, key + ".NAME.", rows, missing)
        elif t in items:
            if items[t][0] == "struct":
                rows.append((key, "table", doc or items[t][1]))
                walk(items, t, key + ".", rows, missing)
            else:
                rows.append((key, alternatives(items, t), doc or items[t][1]))
                descend(items, t, key + ".", rows, missing)
        else:
            rows.append((key, SCALARS.get(t, t), doc))
        if not rows[-1][2]:
            missing.append(key)


def descend(items, t, prefix, rows, missing):
    """Into a struct, or into the table variants of an enum."""
    if t not in items:
        return
    kind, _, attrs, variants = items[t]
    if kind == "struct":
        walk(items, t, prefix, rows, missing)
        return
    tag = re.search(r'tag = "(\w+)"', attrs)
    for vname, vty, vdoc, _ in variants:
        inner = unwrap(vty or "")
        if tag and inner in items:
            value = kebab(vname)
            rows.append((prefix + tag.group(1), f'"{value}"', vdoc or items[inner][1] or f"kind {value}"))
            walk(items, inner, prefix.rstrip(".") + f' ({tag.group(1)} = "{value}").', rows, missing)
        elif inner in items and items[inner][0] == "struct":
            walk(items, inner, prefix, rows, missing)


def alternatives(items, t):
    kinds = []
    for _, vty, _, _ in items[t][3]:
        inner = unwrap(vty or "String")
        if inner.startswith("Vec<"):
            kinds.append("list")
        elif inner in items:
            kinds.append("table")
        else:
            kinds.append(SCALARS.get(inner, inner))
    return " or ".join(dict.fromkeys(kinds))


def render():
    sources = [p.read_text() for p in sorted((ROOT / "src" / "config").glob("*.rs"))]
    items = parse(sources)
    rows, missing = [], []
    walk(items, "FileConfig", "", rows, missing)
    out = [
        "# Configuration reference",
        "",
        "Every key `gateway.toml` accepts, generated from the configuration's",
        "declaration (`src/config/*.rs`) by `scripts/gen-config-docs.py`; the test",
        "suite fails when this file is not current. Unknown keys are errors.",
        "Durations are written `\"30s\"`, `\"500ms\"`, `\"1h\"`; sizes `\"64KiB\"`,",
        "`\"10MiB\"`; secrets are references, `env:NAME` or `file:PATH`. Any key can",
        "be set from the environment as `SEALGATE__SECTION__KEY` (for example",
        "`SEALGATE__LISTEN__ADDRESS`). `NAME` stands for a name you choose;",
        "`[]` for an element of an array of tables. The README explains each",
        "feature with examples; `sealgate check` validates a file.",
        "",
        "| key | type | meaning |",
        "|---|---|---|",
    ]
    for key, ty, doc in rows:
        out.append(f"| `{key}` | {ty} | {doc.replace('|', '&#124;')} |")
    return "\n".join(out) + "\n", missing


def main():
    text, missing = render()
    if "--check" in sys.argv:
        problems = []
        if missing:
            problems.append("keys without a doc comment: " + ", ".join(missing))
        if not OUT.exists() or OUT.read_text() != text:
            problems.append(f"{OUT.relative_to(ROOT)} is not current: run scripts/gen-config-docs.py")
        for p in problems:
            print(p, file=sys.stderr)
        sys.exit(1 if problems else 0)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}: {text.count(chr(10)) - 14} keys; {len(missing)} without a doc comment")
    for key in missing:
        print("  undocumented:", key)


if __name__ == "__main__":
    main()
