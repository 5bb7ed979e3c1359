"""Comparing what a student's function returned with the expected value, and showing both.

Nothing a student returns makes these functions raise: a tensor of the wrong
size, dtype, layout or device, a numpy array, a list, ``None``, an object whose
``__eq__``, ``__bool__``, ``__len__`` or ``__repr__`` misbehaves. Dtypes that
carry the same maths are accepted: any integer dtype for indices,
float16/bfloat16/float32/float64 within :data:`FLOAT_TOLERANCE`; a bool where
numbers are expected, or numbers where a bool mask is, are rejected naming the dtype.
"""

from __future__ import annotations

import torch

#: Agreement asked of floating-point results, by dtype: ``|r - e| <= tol * (1 + |e|)``,
#: with the looser tolerance of the expected and the received dtype.
FLOAT_TOLERANCE = {
    torch.float64: 1e-6,
    torch.float32: 1e-4,
    torch.float16: 4e-3,
    torch.bfloat16: 3e-2,
}
INTEGER_DTYPES = frozenset(
    getattr(torch, name)
    for name in ("uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64")
    if hasattr(torch, name)
)
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def type_name(value: object) -> str:
    """The name of ``value``'s type, with its module unless it is a builtin (``numpy.ndarray``)."""
    try:
        kind = type(value)
        module = type.__getattribute__(kind, "__module__")
        name = type.__getattribute__(kind, "__qualname__")
        return name if module == "builtins" else f"{module}.{name}"
    except Exception:  # whatever the value, the report goes on
        return "an object of an unknown type"


def safe_str(value: object, type_too: bool = False, limit: int = 200) -> str:
    """``repr(value)`` (``str`` of an exception), cut to ``limit`` characters; never raises."""
    try:
        text = str(value) if isinstance(value, BaseException) else repr(value)
        if type(text) is not str:
            raise TypeError
    except Exception:  # whatever the value, the report goes on
        text = f"<{type_name(value)} that cannot be printed>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type_name(value)}: {text}" if type_too else text


def summary(value: object) -> str:
    """Shape, dtype and the first values of a tensor, or the type and repr of anything else.

    Works on any tensor (meta and sparse ones show no values) and never raises.
    """
    if type(value) not in _PLAIN_TENSORS:
        return safe_str(value, type_too=True)
    try:
        text = f"shape {tuple(value.shape)}, dtype {value.dtype}"
        if value.layout != torch.strided:
            return f"{text}, layout {value.layout}"
        if value.device.type == "meta":
            return f"{text}, on the meta device (no values)"
        first = value.detach().reshape(-1)[:6].cpu().tolist()
        shown = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in first)
        return f"{text}, first values [{shown}]"
    except Exception:  # whatever the value, the report goes on
        return safe_str(value, type_too=True)


def compare(expected: object, received: object) -> str | None:
    """``None`` when ``received`` carries the value of ``expected``; otherwise what differs.

    ``expected`` is a tensor (bool: a mask; integer: indices, any integer dtype
    accepted; floating: values within :data:`FLOAT_TOLERANCE`) or a Python int
    (an int or an integral float accepted). Whatever ``received`` is, this never raises.
    """
    try:
        if isinstance(expected, torch.Tensor):
            return _compare_tensors(expected, received)
        return _compare_counts(expected, received)
    except Exception as error:  # a strange result is reported, not raised
        return f"your result could not be compared ({safe_str(error, type_too=True)})"


def _compare_counts(expected: int, received: object) -> str | None:
    if type(received) is float and received.is_integer():
        received = int(received)
    if type(received) is not int:
        shape = f" of shape {tuple(received.shape)}" if type(received) in _PLAIN_TENSORS else ""
        return f"expected a whole number (a Python int), received {type_name(received)}{shape}"
    return None if received == expected else f"{received} is not the expected number"


def _tensor_kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype in INTEGER_DTYPES:
        return "integer"
    return "float" if dtype in FLOAT_TOLERANCE else "other"


def _dtype_problem(expected: torch.Tensor, received: torch.Tensor) -> str | None:
    want, got = _tensor_kind(expected.dtype), _tensor_kind(received.dtype)
    if want == got:
        return None
    wanted = {
        "bool": "a bool tensor (True / False)",
        "integer": "integers (any integer dtype)",
        "float": "floating-point numbers (float16, bfloat16, float32 or float64)",
    }[want]
    return f"expected {wanted}, received dtype {received.dtype}"


def _compare_tensors(expected: torch.Tensor, received: object) -> str | None:
    if type(received) not in _PLAIN_TENSORS:
        if isinstance(received, torch.Tensor):
            return f"expected a plain torch.Tensor, received the subclass {type_name(received)}"
        numpy = type_name(received).startswith("numpy")
        advice = " (convert it with torch.from_numpy)" if numpy else ""
        return f"expected a torch.Tensor, received {type_name(received)}{advice}"
    if received.layout != torch.strided:
        return f"expected a dense tensor (layout torch.strided), received layout {received.layout}"
    if received.device.type == "meta":
        return "your tensor is on the meta device: it has a shape but no values"
    if tuple(received.shape) != tuple(expected.shape):
        return f"expected shape {tuple(expected.shape)}, received shape {tuple(received.shape)}"
    problem = _dtype_problem(expected, received)
    if problem is not None:
        return problem
    got, want = received.detach().cpu(), expected.detach().cpu()
    kind = _tensor_kind(want.dtype)
    if kind == "float":
        tol = max(FLOAT_TOLERANCE[want.dtype], FLOAT_TOLERANCE[got.dtype])
        got, want = got.double(), want.double()
        errors = (got - want).abs().nan_to_num(nan=float("inf"))
        wrong = ~(errors <= tol * (1 + want.abs()))
    else:
        got, want = got.long(), want.long()
        errors, wrong = (got != want).double(), got != want
    count = int(wrong.sum())
    if count == 0:
        return None
    worst = int(errors.reshape(-1).argmax())
    where = []
    for size in reversed(want.shape):  # the index of the worst entry, row-major
        worst, position = divmod(worst, size) if size else (worst, 0)
        where.insert(0, position)
    flat = int(errors.reshape(-1).argmax())
    wanted, received_value = (t.reshape(-1)[flat].item() for t in (want, got))
    if kind == "bool":
        wanted, received_value = bool(wanted), bool(received_value)
    else:
        wanted, received_value = f"{wanted:.4g}", f"{received_value:.4g}"
    return (
        f"{count} of {want.numel()} entries differ; at index {tuple(where)} expected "
        f"{wanted}, received {received_value}"
    )
