"""Batch scoring (``gittrack models predict``): a file in, predictions out, in chunks.

Input: ``.csv`` (read ``chunk_size`` rows at a time), ``.jsonl`` (one record per line, chunked the
same way) or ``.json`` (a scoring request as ``/invocations`` takes it, read whole). Output: ``.csv``
(a ``prediction`` column, ``prediction_<i>`` columns for several outputs, or the model's own
columns when it returns a DataFrame) or ``.json`` (``{"predictions": [...]}``, written as chunks are
scored), ``-`` for standard output (JSON). Memory holds one chunk at a time, whatever the file size.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from gittrack.errors import DataError, UsageError
from gittrack.serving import inputs
from gittrack.serving.scoring import dumps, jsonable, predict
from gittrack.serving.source import Loaded, load, parse_spec, resolve

FORMATS = ("csv", "json", "jsonl")


def _format(path: str, given: str | None, what: str, allowed: tuple[str, ...]) -> str:
    kind = given or ("json" if path == "-" else Path(path).suffix.lstrip(".").lower())
    if kind not in allowed:
        raise UsageError(
            f"cannot tell the {what} format of {path!r}: name it .{', .'.join(allowed)} or pass --{what}-format"
        )
    return kind


def predict_file(
    spec: str,
    input_path: str,
    output_path: str = "-",
    repo: str | None = None,
    chunk_size: int = 10_000,
    input_format: str | None = None,
    output_format: str | None = None,
) -> tuple[str | None, int]:
    """Score ``input_path`` with the model ``spec`` names into ``output_path``; returns (the
    version that scored, the number of rows)."""
    import gittrack

    if chunk_size < 1:
        raise UsageError("the chunk size must be at least 1")
    in_kind = _format(input_path, input_format, "input", FORMATS)
    out_kind = _format(output_path, output_format, "output", ("csv", "json"))
    client = gittrack.Client(repo)
    loaded = load(client, *resolve(client, parse_spec(spec)))
    try:
        with _open_out(output_path) as out:
            writer = _CsvWriter(out) if out_kind == "csv" else _JsonWriter(out)
            rows = 0
            for data, params in _chunks(input_path, in_kind, loaded, chunk_size):
                predictions = predict(loaded, data, params)
                rows += writer.write(predictions)
            writer.close()
    except inputs.ScoringError as exc:
        if output_path != "-":
            Path(output_path).unlink(missing_ok=True)  # no half-written predictions
        raise DataError(f"{input_path}: {exc.message}") from None
    return loaded.version, rows


class _open_out:
    def __init__(self, path: str) -> None:
        self.path = path
        self.handle: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        self.handle = sys.stdout.buffer if self.path == "-" else open(self.path, "wb")
        return self.handle

    def __exit__(self, *exc: Any) -> None:
        if self.handle is not None and self.path != "-":
            self.handle.close()
        elif self.handle is not None:
            self.handle.flush()


def _chunks(path: str, kind: str, loaded: Loaded, size: int) -> Iterator[tuple[Any, dict | None]]:
    import pandas as pd

    source: Any = sys.stdin.buffer if path == "-" else path
    if kind == "json":
        body = source.read() if path == "-" else Path(path).read_bytes()
        yield inputs.parse_json(body, loaded.schema)
        return
    if kind == "csv":
        types = loaded.schema.types() if loaded.schema is not None else None
        try:
            for frame in pd.read_csv(source, dtype=types, chunksize=size):
                yield frame, None
        except (ValueError, TypeError, pd.errors.ParserError) as exc:
            raise inputs.ScoringError(f"Failed to parse input as CSV: {exc}") from None
        return
    handle = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        batch: list[Any] = []
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                batch.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise inputs.ScoringError(f"line {number} is not JSON: {exc}") from None
            if len(batch) == size:
                yield inputs.from_records(batch, loaded.schema, "jsonl"), None
                batch = []
        if batch:
            yield inputs.from_records(batch, loaded.schema, "jsonl"), None
    finally:
        if path != "-":
            handle.close()


class _CsvWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.first = out, True

    def write(self, predictions: Any) -> int:
        import numpy as np
        import pandas as pd

        if isinstance(predictions, pd.Series):
            frame = predictions.to_frame(name=predictions.name if predictions.name is not None else "prediction")
        elif isinstance(predictions, pd.DataFrame):
            frame = predictions
        else:
            array = np.asarray(predictions)
            if array.ndim == 1:
                frame = pd.DataFrame({"prediction": array})
            else:
                flat = array.reshape(len(array), -1)
                frame = pd.DataFrame(flat, columns=[f"prediction_{i}" for i in range(flat.shape[1])])
        text = io.StringIO()
        frame.to_csv(text, index=False, header=self.first)
        self.out.write(text.getvalue().encode("utf-8"))
        self.first = False
        return len(frame)

    def close(self) -> None:
        return None


class _JsonWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.count, self.opened = out, 0, False

    def _open(self) -> None:
        if not self.opened:  # on the first chunk scored: an input refused at once leaves nothing behind
            self.out.write(b'{"predictions": [')
            self.opened = True

    def write(self, predictions: Any) -> int:
        value = jsonable(predictions)
        body = dumps(value if isinstance(value, list) or getattr(value, "ndim", False) else [value])
        count = len(value) if hasattr(value, "__len__") and not isinstance(value, dict) else 1
        self._open()
        if count:
            self.out.write((b", " if self.count else b"") + body[1:-1])
        self.count += count
        return count

    def close(self) -> None:
        self._open()
        self.out.write(b"]}\n")
