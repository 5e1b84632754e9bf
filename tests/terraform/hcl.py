"""Read the Terraform configuration the way the tests need it.

``python-hcl2`` turns each ``.tf`` file into plain dicts (string quotes stripped, blocks as
lists).  ``Config`` merges the files and offers the few lookups the tests share, plus a tiny
evaluator for the expressions this configuration uses for names (``${local.catalog.x}``,
``${each.key}``, ``${var.x}`` with its default, ``${google_x.y.name}``), so a test can compare
what Terraform would create with ``contract.catalog`` without a Google provider.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
_INTERPOLATION = re.compile(r"\$\{([^{}]+)\}")
REF = re.compile(r"\b((?:data\.)?google_[a-z0-9_]+\.[a-z0-9_]+)(\[\"?([A-Za-z0-9_.\-]+)\"?\])?")


def parse_file(path: Path) -> dict[str, Any]:
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)


@dataclass
class Config:
    """Every block of the configuration's ``*.tf`` files, merged."""

    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        return self.resources[(rtype, name)]

    @property
    def catalog_json(self) -> dict[str, Any]:
        return json.loads((TERRAFORM / "generated" / "catalog.json").read_text(encoding="utf-8"))

    def variable_default(self, name: str) -> Any:
        return self.variables[name].get("default")

    def evaluate(self, text: str, each_key: str | None = None) -> str:
        """Substitute the interpolations a name or filter is built from; fail on anything else."""

        def one(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            if expr == "each.key":
                if each_key is None:
                    raise ValueError(f"each.key outside for_each in {text!r}")
                return each_key
            if expr.startswith("local.catalog."):
                value: Any = self.catalog_json
                for part in expr.removeprefix("local.catalog.").split("."):
                    value = value[part]
                return str(value)
            arithmetic = re.fullmatch(r"var\.([a-z0-9_]+) *([-+%]) *(\d+)", expr)
            if arithmetic:  # e.g. ${var.connector_window_end_hour - 1}
                left = int(self.variable_default(arithmetic.group(1)))
                right = int(arithmetic.group(3))
                op = arithmetic.group(2)
                return str(
                    left - right if op == "-" else left + right if op == "+" else left % right
                )
            if expr.startswith("var.") and "." not in expr.removeprefix("var."):
                return str(self.variable_default(expr.removeprefix("var.")))
            if expr.startswith("var."):
                var, attr = expr.removeprefix("var.").split(".", 1)
                return str(self.variable_default(var)[attr])
            ref = re.fullmatch(r"(google_[a-z0-9_]+)\.([a-z0-9_]+)\.name", expr)
            if ref:
                return self.evaluate(self.resource(ref.group(1), ref.group(2))["name"])
            raise ValueError(f"cannot evaluate ${{{expr}}} in {text!r}")

        return _INTERPOLATION.sub(one, text)


@cache
def load() -> Config:
    config = Config()
    for path in sorted(TERRAFORM.glob("*.tf")):
        doc = parse_file(path)
        config.files[path.name] = doc
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert (rtype, name) not in config.resources, f"{rtype}.{name} twice"
                    config.resources[(rtype, name)] = body
        for block in doc.get("variable", []):
            config.variables.update(block)
        for block in doc.get("locals", []):
            config.locals.update(block)
        for block in doc.get("output", []):
            config.outputs.update(block)
    return config


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a resource body (hcl2 gives a list)."""
    value = body[name]
    if isinstance(value, list):
        assert len(value) == 1, f"expected one {name} block, got {len(value)}"
        return value[0]
    return value
