"""How the entries of a search space refer to each other: a `multiple_of` names what it
multiplies, a `when` names the searched parameters it depends on (see `_space.py`).

Here the space as a whole: the order in which a trial draws its entries (each after what it
depends on), what a trial trains with once drawn values resolve, and the checks that refuse a
space whose references cannot work (unknown names, self-reference, cycles, conditions never
met), each as one line naming the entry's path.
"""

from __future__ import annotations

import difflib
from typing import Any

from ._space import MultipleOf, _Dist


def draw_order(space: dict[str, _Dist]) -> list[str]:
    """The searched parameters, each after the searched ones it depends on (the config's order
    otherwise). `check_shape` has refused cycles."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for other in space[name].depends_on():
            if other in space:
                visit(other)
        done.append(name)

    for name in space:
        visit(name)
    return done


def resolved(space: dict[str, _Dist], fixed: dict[str, Any], drawn: dict[str, Any]) -> dict[str, Any]:
    """What a trial trains with: the fixed values, with each drawn value put in as it resolves
    (a multiple of another parameter: the product)."""
    values = {**fixed, **drawn}
    for name in draw_order(space):
        if name in drawn:
            values[name] = space[name].resolve(drawn[name], values)
    return values


def check_shape(space: dict[str, _Dist], names: tuple[str, ...] | list[str]) -> str | None:
    """What is wrong with how the entries refer to each other, as `search_space.X.key: why`,
    or None. `names`: every parameter there is."""
    for name, dist in space.items():
        for key in dist.depends_on():
            of = isinstance(dist, MultipleOf) and key == dist.of
            path = f"search_space.{name}.of" if of else f"search_space.{name}.when.{key}"
            if key not in names:
                close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
                return f"{path}: '{key}' is not a parameter" + (
                    f"; did you mean '{close[0]}'?" if close else ""
                )
            if key == name:
                return f"{path}: {name} cannot depend on itself"
        for key, value in (dist.when or {}).items():
            if key not in space:
                return (
                    f"search_space.{name}.when.{key}: {key} is not searched here, so the condition never "
                    f"changes; search {key}, or drop the condition"
                )
            why = space[key].refuses(value)
            if why is not None:
                return f"search_space.{name}.when.{key}: never met: {why}"
        if isinstance(dist, MultipleOf) and dist.of in space and space[dist.of].grid_values() is None:
            return (
                f"search_space.{name}.of: {dist.of} is a {space[dist.of].type} range; a multiple needs it "
                "int, categorical or fixed"
            )
    cycle = _cycle(space)
    if cycle:
        return f"search_space: {' -> '.join(cycle)} depend on each other in a cycle; break it"
    return None


def _cycle(space: dict[str, _Dist]) -> list[str]:
    """A cycle of dependencies among searched entries, as the path around it, or []."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for other in space[name].depends_on():
            if other not in space or state.get(other) == 2:
                continue
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            found = visit(other)
            if found:
                return found
        path.pop()
        state[name] = 2
        return []

    for name in space:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []
