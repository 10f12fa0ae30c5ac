"""The hooks' contracts in docs/plugins.md, generated from the hookspecs' docstrings.

The docstrings in ``plugins/hookspecs.py`` are the contracts' single source. Each hook's section in
docs/plugins.md holds a copy of its contract between two markers; ``python -m
predis.plugins.reference docs/plugins.md`` rewrites those copies, and tests/test_plugins.py fails
when a copy and its docstring differ or a hook has no section.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path

from predis.plugins import hookspecs

BEGIN = "<!-- contract of {name}: generated from plugins/hookspecs.py by `python -m predis.plugins.reference` -->"
END = "<!-- end of the contract -->"
_ROLE = re.compile(r":[a-z]+:`(~?)([^`]+)`")  # :class:`~predis.plugins.origin.Origin`


def hooks() -> dict[str, Callable[..., object]]:
    """Every hookspec, in the order ``hookspecs`` defines them."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {name: fn for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, marker)}


def _markdown(rst: str) -> str:
    text = _ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", rst)
    return text.replace("``", "`")


def summary(name: str) -> str:
    """The first paragraph of the hook's docstring, as plain text (for ``predis plugins --hooks``)."""
    first = (inspect.getdoc(hooks()[name]) or "").split("\n\n", 1)[0]
    return _markdown(first).replace("`", "").replace("\n", " ")


def contract(name: str) -> str:
    """The hook's signature and docstring, in Markdown, between the markers."""
    fn = hooks()[name]
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    doc = inspect.getdoc(fn)
    if not doc:
        raise ValueError(f"hookspec {name} has no docstring: its docstring is its contract")
    return "\n".join(
        [BEGIN.format(name=name), f"`{name}({params}) -> {sig.return_annotation}`", "", _markdown(doc), END]
    )


def render(markdown: str) -> str:
    """``markdown`` with every hook's contract block rewritten; ValueError when one is missing."""
    for name in hooks():
        begin = BEGIN.format(name=name)
        start = markdown.find(begin)
        end = markdown.find(END, start)
        if start < 0 or end < 0:
            raise ValueError(f"docs/plugins.md has no contract block for {name}: add the line {begin!r} and {END!r}")
        markdown = markdown[:start] + contract(name) + markdown[end + len(END) :]
    return markdown


def main(argv: list[str]) -> int:
    for arg in argv or ["docs/plugins.md"]:
        path = Path(arg)
        text = path.read_text()
        updated = render(text)
        if updated != text:
            path.write_text(updated)
            print(f"updated the hook contracts in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
