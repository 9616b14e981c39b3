#!/usr/bin/env python3
"""Generate ``raindrop_dspy/_bindings.py`` (the ctypes declarations) from ``include/raindrop_dspy.h``.

The header is cbindgen's output, so its shapes are regular: ``#define RD_*`` constants,
``typedef enum {...} name;``, ``typedef struct name {...} name;`` and one prototype per
function. Anything this script does not understand is an error, never a silent guess.

    python3 bindings/python/tools/gen_bindings.py           # rewrite _bindings.py
    python3 bindings/python/tools/gen_bindings.py --check   # exit 1 when _bindings.py is stale

Standard library only (``make check-header`` runs it with any python3).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HEADER = os.path.join(ROOT, "include", "raindrop_dspy.h")
OUTPUT = os.path.join(HERE, "..", "raindrop_dspy", "_bindings.py")

SCALARS = {
    "void": "None",
    "size_t": "c_size_t",
    "int32_t": "c_int32",
    "int64_t": "c_int64",
    "uint32_t": "c_uint32",
    "uint64_t": "c_uint64",
    "uint8_t": "c_uint8",
    "bool": "c_bool",
    "int": "c_int",
}


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


class Header:
    def __init__(self, text: str) -> None:
        self.text = strip_comments(text)
        self.defines: List[Tuple[str, str]] = []
        self.enums: List[Tuple[str, List[Tuple[str, str]]]] = []
        self.structs: List[Tuple[str, List[Tuple[str, str]]]] = []
        self.functions: List[Tuple[str, str, List[str]]] = []
        self.handles: List[str] = []  # one-field uint64_t structs passed by value (rd_client, rd_call)
        self.callbacks: Dict[str, str] = {}  # generated name -> CFUNCTYPE(...)
        self._parse()

    # -- types ------------------------------------------------------------------
    def ctype(self, decl: str) -> str:
        """ctypes expression for a C type (no declarator name)."""
        const = "const " in decl
        t = " ".join(decl.replace("const ", "").split())
        if t.endswith("*"):
            base = t[:-1].strip()
            if base == "char":
                # A string in; a mutable buffer out (a create_string_buffer) otherwise.
                return "c_char_p" if const else "POINTER(c_char)"
            if base == "void":
                return "c_void_p"
            if base in self.handles:
                return f"POINTER({base})"
            if base in SCALARS:
                return f"POINTER({SCALARS[base]})"
            if base in self._known_types():
                return f"POINTER({base})"
            raise SystemExit(f"gen_bindings: unknown pointer type {decl!r}")
        if t in SCALARS:
            return SCALARS[t]
        if t in self.handles:
            return t
        if t in self._known_types():
            return t
        raise SystemExit(f"gen_bindings: unknown type {decl!r}")

    def _known_types(self) -> List[str]:
        return [n for n, _ in self.enums] + [n for n, _ in self.structs]

    @staticmethod
    def split_decl(decl: str) -> Tuple[str, str]:
        """'const char *name' -> ('const char *', 'name')."""
        m = re.match(r"^(.*?)(\w+)$", decl.strip())
        if not m:
            raise SystemExit(f"gen_bindings: cannot read declaration {decl!r}")
        return m.group(1).strip(), m.group(2)

    # -- parsing ----------------------------------------------------------------
    def _parse(self) -> None:
        text = self.text
        for m in re.finditer(r"^#define\s+(RD_\w+)\s+(.+?)\s*$", text, flags=re.M):
            self.defines.append((m.group(1), m.group(2)))
        for m in re.finditer(r"^typedef\s+(uint64_t|int64_t|int32_t|uint32_t)\s+(\w+)\s*;", text, flags=re.M):
            # A handle as a plain integer (older headers) could be passed for another handle.
            raise SystemExit(f"gen_bindings: unsupported alias {m.group(0)!r} (handles are one-field structs)")
        for m in re.finditer(r"typedef\s+enum\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
            members = []
            for item in m.group(1).split(","):
                item = item.strip()
                if not item:
                    continue
                name, _, value = item.partition("=")
                members.append((name.strip(), value.strip()))
            self.enums.append((m.group(2), members))
        for m in re.finditer(r"typedef\s+struct\s*\w*\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
            name, body = m.group(2), m.group(1)
            fields = [f.strip() for f in body.split(";") if f.strip()]
            if fields == ["uint64_t id"]:
                self.handles.append(name)
                continue
            self.structs.append((name, fields))  # converted later: fields may name later types
        body = text.split('extern "C" {', 1)[-1]
        body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("#"))
        body = body.replace("}", "")  # the closing brace of extern "C"
        for m in re.finditer(r"([\w\s\*]+?)\b(rd_\w+)\s*\(([^)]*)\)\s*;", body):
            ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
            params = [] if args in ("", "void") else [a.strip() for a in args.split(",")]
            self.functions.append((ret, name, params))
        if not self.functions:
            raise SystemExit("gen_bindings: no function found in the header")

    def field(self, struct: str, decl: str) -> str:
        fp = re.match(r"^(.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)$", decl, flags=re.S)
        if fp:  # function pointer
            ret, name, args = fp.group(1).strip(), fp.group(2), fp.group(3)
            types = [self.ctype(self.split_decl(a)[0]) for a in args.split(",") if a.strip() not in ("", "void")]
            cb = f"{struct}_{name}"
            self.callbacks[cb] = f"CFUNCTYPE({', '.join([self.ctype(ret)] + types)})"
            return f'("{name}", {cb})'
        arr = re.match(r"^(.+?)(\w+)\s*\[(\w+)\]$", decl)
        if arr:
            elem = arr.group(1).strip()
            base = "c_char" if elem == "char" else self.ctype(elem)
            return f'("{arr.group(2)}", {base} * {arr.group(3)})'
        ctype_, name = self.split_decl(decl)
        return f'("{name}", {self.ctype(ctype_)})'

    # -- output -----------------------------------------------------------------
    def render(self) -> str:
        out = [
            '"""ctypes declarations of include/raindrop_dspy.h.',
            "",
            "Generated by bindings/python/tools/gen_bindings.py from the header: do not edit.",
            "``make check-header`` fails when this file is stale.",
            "",
            "Handles (``rd_client``, ``rd_call``: one ``uint64_t`` in a struct, passed by value) are",
            "distinct one-field ``Structure`` types, as in C: a function taking an ``rd_client`` raises",
            "``ctypes.ArgumentError`` for an ``rd_call`` or a plain int. Enums are ``c_int32``.",
            '"""',
            "",
            "# ruff: noqa: E501",
            "from ctypes import (  # noqa: F401",
            "    CFUNCTYPE,",
            "    POINTER,",
            "    Structure,",
            "    c_bool,",
            "    c_char,",
            "    c_char_p,",
            "    c_int,",
            "    c_int32,",
            "    c_int64,",
            "    c_size_t,",
            "    c_uint8,",
            "    c_uint32,",
            "    c_uint64,",
            "    c_void_p,",
            ")",
            "",
        ]
        for name, value in self.defines:
            out.append(f"{name} = {value}")
        for name, members in self.enums:
            out += ["", f"# enum {name}", f"{name} = c_int32"]
            nxt = 0
            for member, value in members:
                v = int(value, 0) if value else nxt
                out.append(f"{member} = {v}")
                nxt = v + 1
        for h in self.handles:
            out += ["", "", f"class {h}(Structure):", '    _fields_ = [("id", c_uint64)]']
        fields = {name: [self.field(name, f) for f in decls] for name, decls in self.structs}
        if self.callbacks:
            out += ["", ""]
            for cb, decl in self.callbacks.items():
                out.append(f"{cb} = {decl}")
        for name, _ in self.structs:
            out += ["", "", f"class {name}(Structure):", "    _fields_ = ["]
            out += [f"        {f}," for f in fields[name]]
            out.append("    ]")
        out += ["", "", "# name -> (restype, argtypes)", "FUNCTIONS = {"]
        for ret, name, params in self.functions:
            args = [self.ctype(self.split_decl(p)[0]) for p in params]
            out.append(f'    "{name}": ({self.ctype(ret)}, [{", ".join(args)}]),')
        out.append("}")
        return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the checked-in file differs")
    ap.add_argument("--header", default=HEADER)
    ap.add_argument("--output", default=OUTPUT)
    args = ap.parse_args()
    with open(args.header, encoding="utf-8") as f:
        text = Header(f.read()).render()
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            print(f"{os.path.relpath(args.output)} is stale: run python3 bindings/python/tools/gen_bindings.py",
                  file=sys.stderr)
            return 1
        return 0
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
