"""Patients as FHIR: a Bundle per patient read as a fact record, through the map the protocol
names (`map "....fhir-map.yaml"`). `mapping` reads and checks the map, `bundle` reads a Bundle;
`records` puts them in the fact stream (`engine/factfile.py`), so every command that reads facts
reads FHIR too."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from engine.fhir.mapping import Mapping, load_map, map_path
from protocol import model as m
from protocol.errors import FactProblem


def records(stream: Iterable[tuple[int, Any]], protocol: m.Protocol, mapping: Mapping | None,
            path: str) -> Iterator[tuple[int, Any]]:
    """The stream with each FHIR Bundle read as its patient's record through `mapping` (the
    protocol's, `load_map`); a record of the project's own format passes as it is. The FHIR
    library is imported only when a Bundle comes."""
    reader = None
    for number, data in stream:
        if isinstance(data, dict) and "resourceType" in data:
            if mapping is None:
                named = map_path(protocol)
                why = f"its FHIR map {named} is not there" if named else \
                    "it names no FHIR map to read it with (map \"FILE.yaml\")"
                data = FactProblem(path, number, None, None, "resourceType",
                                   f"a FHIR {data.get('resourceType')}, and the protocol cannot "
                                   f"read it: {why}")
            else:
                if reader is None:
                    from engine.fhir.bundle import BundleReader
                    reader = BundleReader(protocol, mapping)
                data = reader.record(data, path, number)
        yield number, data


__all__ = ["Mapping", "load_map", "map_path", "records"]
