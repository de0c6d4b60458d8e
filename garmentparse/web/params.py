"""Numbers from clients, all read by :func:`garmentparse.store.ids.parse_int` (ASCII digits, at most
``MAX_ID``, the largest INTEGER column value):
path ids through the ``id`` path convertor (anything else matches no route: 404), query and
form fields through :func:`form_int` (400) or :func:`query_int` (``None``: the page says why)."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.convertors import Convertor, register_url_convertor

from garmentparse.store.ids import ID_PATTERN, parse_int


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route path: ASCII digits naming at most ``MAX_ID``, as an int."""

    regex = ID_PATTERN

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def form_int(raw: object, what: str) -> int:
    """A number a form or query must carry; 400 naming ``what`` when it is not one."""
    try:
        return parse_int(raw, what)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def query_int(raw: str) -> int | None:
    """An optional number of a query string: ``None`` when empty or not a number."""
    try:
        return parse_int(raw)
    except ValueError:
        return None


def int_list(raw: str, what: str) -> list[int]:
    """``"3,5, 8"`` as numbers in their order, repeats dropped; ValueError naming ``what`` for a bad one."""
    items = [p.strip() for p in raw.split(",") if p.strip()]
    return list(dict.fromkeys(parse_int(p, what) for p in items))
