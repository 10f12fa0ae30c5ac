"""The committed generated code matches the protos; the contracts follow buf's STANDARD naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from predis import codegen
from predis.v1 import cache_pb2, common_pb2, drift_pb2, predictor_pb2, retrainer_pb2

FILES = (common_pb2, cache_pb2, predictor_pb2, drift_pb2, retrainer_pb2)


def test_committed_generated_code_is_fresh(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    generated = {p.name: p.read_bytes() for p in codegen.generate(tmp_path)}
    committed = {p.name: p.read_bytes() for p in codegen.PACKAGE_DIR.glob("*_pb2*.py*")}
    assert set(generated) == set(committed), "run `make protos`"
    stale = [name for name, text in generated.items() if committed[name] != text]
    assert not stale, f"stale generated code, run `make protos`: {stale}"


def test_buf_standard_naming() -> None:
    for module in FILES:
        assert module.DESCRIPTOR.package == "predis.v1"
        for service in module.DESCRIPTOR.services_by_name.values():
            assert service.name.endswith("Service")
            for method in service.methods:
                assert method.input_type.name == f"{method.name}Request", method.full_name
                assert method.output_type.name == f"{method.name}Response", method.full_name
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            zero = enum.values_by_number[0].name
            assert zero.endswith("_UNSPECIFIED"), enum.full_name


def test_every_field_and_rpc_is_commented() -> None:
    for proto in codegen.proto_files():
        lines = proto.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            is_field = (
                stripped.endswith(";") and "=" in stripped and not stripped.startswith(("option", "//", "syntax"))
            )
            is_rpc = stripped.startswith("rpc ")
            if is_field or is_rpc:
                previous = lines[i - 1].strip()
                assert previous.startswith("//"), f"{proto.name}:{i + 1} {stripped}"
