"""Fails when the modules of a crate import each other in a circle.

`python3 .ci/module_cycles.py lint/src loadgen/src ...`: each file is a
module; `crate::a::b` names the deepest module file it reaches, `super::`
and `self::` resolve from the file's module, and test modules are left
out. A folder module and the modules inside it count as one (a parent
declares and re-exports its children, which read its types): a circle must
pass through modules that are not nested in each other. Prints each circle
with the modules each of its members imports inside it.

Top-level modules (a crate's stages, folders and all) are checked the same
way with everything inside each folded into it: stage A may use stage B,
or B use A, never both.
"""

import os
import re
import sys


def module_files(root):
    """Module path (a tuple of names; () for the crate root) -> file."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = tuple(os.path.relpath(path, root)[:-3].split(os.sep))
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts in (("lib",), ("main",)):
                parts = ()
            files[parts] = path
    return files


def split_group(prefix, body):
    """The paths of a `use` group: `a::{b, c::{d, e}}` after `prefix`."""
    paths, depth, current = [], 0, ""
    for ch in body + ",":
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            item = current.strip()
            current = ""
            if not item:
                continue
            nested = re.match(r"([\w:]*?)::\{(.*)\}$", item, re.S)
            if nested:
                paths += split_group(prefix + nested.group(1).split("::"), nested.group(2))
            else:
                paths.append(prefix + [p for p in item.split("::") if p])
        else:
            current += ch
    return paths


def imports(module, path):
    """Every module path the file names through `crate::`, `super::`, `self::`."""
    text = open(path, encoding="utf-8").read()
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    text = re.sub(r"//[^\n]*", "", text)
    parent = list(module[:-1])
    found = []
    for m in re.finditer(r"\b(crate|super|self)::((?:\w+::)*)(\{)?", text):
        start = {"crate": [], "super": parent, "self": list(module)}[m.group(1)]
        middle = [p for p in m.group(2).split("::") if p]
        if m.group(3):
            end, depth = m.end(), 1
            while depth and end < len(text):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            found += split_group(start + middle, text[m.end():end - 1])
        else:
            word = re.match(r"(\w+)", text[m.end():])
            found.append(start + middle + ([word.group(1)] if word else []))
    return found


def graph_of(root):
    files = module_files(root)

    def resolve(path):
        for n in range(len(path), 0, -1):
            if tuple(path[:n]) in files:
                return tuple(path[:n])
        return None

    graph = {}
    for module, path in files.items():
        deps = set()
        for named in imports(module, path):
            target = resolve(named)
            if target is None or target == ():
                continue
            nested = target[: len(module)] == module or module[: len(target)] == target
            if not nested:
                deps.add(target)
        graph[module] = deps
    return graph


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(100_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def top_level(graph):
    """The graph of the crate's top-level modules, each folding its own."""
    folded = {}
    for module, deps in graph.items():
        if not module:
            continue
        into = folded.setdefault(module[:1], set())
        into.update(d[:1] for d in deps if d[:1] != module[:1])
    return folded


def main(roots):
    name = lambda module: "/".join(module)
    failed = False
    for root in roots:
        graph = graph_of(root)
        stages = top_level(graph)
        clean = True
        for what, g in (("modules", graph), ("top-level modules", stages)):
            for circle in circles(g):
                failed, clean = True, False
                print(f"{root}: {what} import each other in a circle:")
                for module in sorted(circle):
                    inside = sorted(name(d) for d in g[module] if d in circle)
                    print(f"  {name(module)} imports {', '.join(inside)}")
        if clean:
            print(f"{root}: {len(graph)} modules in {len(stages)} top-level ones, no circles")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
