"""JSON Schema files for the domain events, so consumers in any language can validate `data`.

Generated from the pydantic models in `schemas/`, checked in under `schemas/json/`, and checked
for drift in CI: a model change without regenerated files fails the build.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from ingest import schemas
from ingest.schemas.base import DomainModel

OUTPUT = Path(schemas.__file__).parent / "json"
SKIPPED_MODULES = frozenset({"base"})


@dataclass(frozen=True)
class ExportedModel:
    module: str
    model: type[DomainModel]

    @property
    def relative_path(self) -> str:
        return f"{self.module}/{self.model.__name__}.json"

    @property
    def event_type(self) -> str | None:
        value = getattr(self.model, "event_type", None)
        return value if isinstance(value, str) else None


def domain_models() -> list[ExportedModel]:
    found: list[ExportedModel] = []
    for info in sorted(pkgutil.iter_modules(schemas.__path__), key=lambda m: m.name):
        if info.name in SKIPPED_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{schemas.__name__}.{info.name}")
        for name, value in sorted(vars(module).items()):
            if (
                isinstance(value, type)
                and issubclass(value, DomainModel)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append(ExportedModel(info.name, value))
    return found


def render() -> dict[str, str]:
    """Relative path → file content, index included."""
    files: dict[str, str] = {}
    index: dict[str, str] = {}
    for exported in domain_models():
        schema = exported.model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://ingest.dev/schemas/{exported.relative_path}"
        if exported.event_type:
            schema["x-cloudevent-type"] = exported.event_type
            index[exported.event_type] = exported.relative_path
        files[exported.relative_path] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    files["index.json"] = json.dumps(dict(sorted(index.items())), indent=2) + "\n"
    return files


def write(directory: Path = OUTPUT) -> list[str]:
    """Regenerate every file; returns the paths written or removed."""
    wanted = render()
    changed: list[str] = []
    for relative, content in wanted.items():
        path = directory / relative
        if not path.exists() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            changed.append(relative)
    for path in sorted(directory.rglob("*.json")):
        relative = path.relative_to(directory).as_posix()
        if relative not in wanted:
            path.unlink()
            changed.append(relative)
    return changed


def drift(directory: Path = OUTPUT) -> list[str]:
    """Files that differ from what the models generate (missing, stale or extra)."""
    wanted = render()
    stale = [
        relative
        for relative, content in wanted.items()
        if not (directory / relative).exists() or (directory / relative).read_text() != content
    ]
    extra = [
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*.json")
        if path.relative_to(directory).as_posix() not in wanted
    ]
    return sorted(stale + extra)
