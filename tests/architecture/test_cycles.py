"""Imports go one way: no import cycle among garmentparse's modules (grimp's static graph)."""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp")

# Cycles tolerated, by their modules, each with the reason every edge in it is a function-level
# import that cannot run at import time. Keep this empty.
ALLOWED: dict[frozenset[str], str] = {}


def import_cycles(graph) -> list[list[str]]:
    """One shortest cycle (as a chain of modules, first == last) per set of modules involved."""
    seen: set[frozenset[str]] = set()
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is None:
                continue
            chain = [module, *back]
            key = frozenset(chain)
            if key not in seen:
                seen.add(key)
                cycles.append(chain)
    return cycles


def test_no_import_cycles():
    # imports under `if TYPE_CHECKING:` never run, so they cannot make a cycle; no cache: a stale
    # one would answer for files as they were
    graph = grimp.build_graph("garmentparse", exclude_type_checking_imports=True, cache_dir=None)
    cycles = [c for c in import_cycles(graph) if frozenset(c) not in ALLOWED]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
