"""The three wire protocols: keel's plain JSON, MLflow's ``/invocations`` payloads and the
Open Inference Protocol (KServe v2): parsing requests, shaping answers and errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel.serving._errors import RequestError
from keel.serving._inputs import InputBatch, InputSchema, _json_type
from keel.serving._runtime import Prediction

__all__ = [
    "error_body",
    "oip_metadata",
    "oip_response",
    "parse_feedback",
    "parse_json",
    "parse_tabular",
    "plain_response",
]

#: the keys a plain or MLflow-shaped body may carry its rows under
_DATA_KEYS = ("inputs", "dataframe_split", "dataframe_records", "instances")


def parse_json(body: bytes) -> Any:
    """The JSON document of a body; 400 naming the position when it is malformed."""
    import orjson

    if not body:
        raise RequestError(400, "the request body is empty; send a JSON document", field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        where = str(exc).split(":", 1)[-1].strip()
        raise RequestError(
            400, f"the request body is not valid JSON ({where[:120]})", field="body"
        ) from None


def parse_tabular(body: bytes, content_type: str, schema: InputSchema) -> InputBatch:
    """Rows from a plain or MLflow-shaped body (JSON) or ``text/csv``."""
    if content_type == "csv":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, "the CSV body is not UTF-8 text", field="body") from None
        return schema.from_csv(text)
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(
            400,
            f"the body is a JSON {_json_type(payload)}; expected an object with one of "
            f"{', '.join(_DATA_KEYS)}",
            field="body",
        )
    keys = [k for k in _DATA_KEYS if k in payload]
    others = [k for k in payload if k not in _DATA_KEYS and k != "params"]
    if others or len(keys) != 1:
        detail = (
            f"unknown key(s) {', '.join(repr(k)[:40] for k in others[:5])}"
            if others
            else ("no rows" if not keys else f"several row keys ({', '.join(keys)})")
        )
        raise RequestError(
            400,
            f"the body has {detail}; send exactly one of: inputs (rows or columns), "
            "dataframe_split, dataframe_records, instances",
            field="body",
        )
    if payload.get("params"):
        raise RequestError(
            400, "params are not supported by keel endpoints; leave them out", field="params"
        )
    key = keys[0]
    data = payload[key]
    if key == "dataframe_split":
        return schema.from_split(data, key)
    if key == "inputs" and isinstance(data, dict):
        return schema.from_columns(data, key)
    return schema.from_records(data, key)


def _labels(values: Any) -> Any:
    return (
        values.tolist()
        if getattr(values, "dtype", None) is not None and values.dtype.kind == "O"
        else values
    )


def plain_response(
    prediction: Prediction,
    classes: list[Any] | None,
    model_version: str,
    request_id: str,
    *,
    proba: bool,
) -> bytes:
    """``{"predictions": [...], "probabilities"?, "classes"?, "model_version", "request_id"}``."""
    import orjson

    body: dict[str, Any] = {"predictions": _labels(prediction.labels)}
    if proba and prediction.proba is not None:
        body["probabilities"] = prediction.proba
        body["classes"] = classes
    body["model_version"] = model_version
    body["request_id"] = request_id
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def error_body(protocol: str, error: RequestError, request_id: str) -> tuple[bytes, bytes]:
    """The body and content type of an error in the protocol's own shape."""
    import orjson

    if protocol == "oip":
        return orjson.dumps({"error": error.message}), b"application/json"
    if protocol == "mlflow":
        code = "BAD_REQUEST" if error.status < 500 else "INTERNAL_ERROR"
        return (
            orjson.dumps({"error_code": code, "message": error.message, "request_id": request_id}),
            b"application/json",
        )
    from http import HTTPStatus

    try:
        title = HTTPStatus(error.status).phrase
    except ValueError:
        title = "Error"
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": error.status,
        "detail": error.message,
        "code": error.code,
    }
    if error.field is not None:
        problem["field"] = error.field
    problem["request_id"] = request_id
    return orjson.dumps(problem), b"application/problem+json"


# -- Open Inference Protocol -----------------------------------------------------------

_OIP_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "unknown": "FP64",
}


def _oip_datatype(values: Any) -> str:
    kind = getattr(getattr(values, "dtype", None), "kind", "O")
    return {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}.get(kind, "BYTES")


def oip_metadata(name: str, versions: list[str], served: Any) -> dict[str, Any]:
    """Model metadata built from the signature: one input per column (``content_type``
    ``pd``), the ``predict`` output and, for classifiers, ``predict_proba``."""
    schema = served.schema
    inputs = [
        {
            "name": n,
            "datatype": _OIP_TYPES.get(t, "BYTES"),
            "shape": [-1],
        }
        for n, t in zip(schema.names, schema.types, strict=True)
    ]
    classes = served.runtime.classes
    outputs: list[dict[str, Any]] = []
    if classes is not None:
        label_type = "BYTES" if any(isinstance(c, str) for c in classes) else "INT64"
        outputs.append({"name": "predict", "datatype": label_type, "shape": [-1]})
        if served.runtime.has_proba:
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]}
            )
    else:
        outputs.append({"name": "predict", "datatype": "FP64", "shape": [-1]})
    return {
        "name": name,
        "versions": versions,
        "platform": f"keel-{served.runtime.kind}",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "content_type": "pd",
            "model": served.uri,
            "classes": classes,
        },
    }


def oip_wanted_outputs(payload: Mapping[str, Any], has_proba: bool) -> tuple[bool, bool]:
    """Which outputs an infer request asks for: (predict, predict_proba)."""
    outputs = payload.get("outputs")
    if outputs is None:
        return True, False
    if not isinstance(outputs, list):
        raise RequestError(400, "outputs must be a list of {name} objects", field="outputs")
    names = []
    for i, out in enumerate(outputs):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise RequestError(
                400, f"outputs[{i}] must be an object with a name", field=f"outputs[{i}]"
            )
        names.append(out["name"])
    known = ["predict", "predict_proba"] if has_proba else ["predict"]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RequestError(
            400,
            f"outputs[{names.index(unknown[0])}] names {unknown[0][:40]!r}; this model's outputs "
            f"are {', '.join(known)}",
            field=f"outputs[{names.index(unknown[0])}]",
        )
    return "predict" in names, "predict_proba" in names


def oip_response(
    name: str,
    served: Any,
    prediction: Prediction,
    request_id: str,
    oip_id: str,
    *,
    predict: bool,
    proba: bool,
) -> bytes:
    """An infer response: ``model_name``, ``model_version``, ``id`` and the outputs."""
    import orjson

    outputs: list[dict[str, Any]] = []
    n = len(prediction.labels)
    if predict:
        outputs.append(
            {
                "name": "predict",
                "shape": [n],
                "datatype": _oip_datatype(prediction.labels),
                "data": _labels(prediction.labels),
            }
        )
    if proba and prediction.proba is not None:
        p = prediction.proba
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [int(p.shape[0]), int(p.shape[1])],
                "datatype": "FP64",
                "data": p.astype("float64").reshape(-1),
            }
        )
    body = {
        "model_name": name,
        "model_version": str(served.version.version),
        "id": oip_id,
        "parameters": {"request_id": request_id, "model": served.uri},
        "outputs": outputs,
    }
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


#: the most labels one feedback request may carry
MAX_FEEDBACK = 10_000


def parse_feedback(payload: Any) -> list[tuple[str, Any]]:
    """``(request id, label)`` pairs from a feedback body: one object
    (``{"request_id", "label"}``) or many (``{"feedback": [...]}``).

    Raises:
        RequestError: 400 naming the entry and what it lacks.
    """
    from keel.serving._routing import REQUEST_ID

    items: Any
    if isinstance(payload, dict) and "feedback" in payload:
        items, field = payload["feedback"], "feedback"
    else:
        items, field = [payload], "body"
    if not isinstance(items, list) or not items or len(items) > MAX_FEEDBACK:
        raise RequestError(
            400,
            f"{field} must be a list of 1 to {MAX_FEEDBACK} objects with request_id and label",
            field=field,
        )
    entries = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]" if field == "feedback" else "body"
        if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
            raise RequestError(
                400, f"{where} must be an object with request_id and label", field=where
            )
        unknown = set(item) - {"request_id", "label"}
        if unknown:
            raise RequestError(
                400,
                f"{where} has unknown key(s) {', '.join(sorted(map(str, unknown)))[:60]}; "
                "expected request_id and label",
                field=where,
            )
        if not isinstance(item["request_id"], str) or not REQUEST_ID.match(item["request_id"]):
            raise RequestError(
                400,
                f"{where}.request_id must be a request id string",
                field=f"{where}.request_id",
            )
        entries.append((item["request_id"], item["label"]))
    return entries
