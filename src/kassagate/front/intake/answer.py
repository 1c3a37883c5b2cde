"""The intake's answers (a front code, its text and the body's extra fields), and how an
answer's text names what a client sent (:func:`type_name`, :func:`id_text`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kassagate.core.codes import FRONT_MESSAGES, FrontCode
from kassagate.front.backpressure import Refusal

Mode = Literal["kassa", "cluster"]


@dataclass(frozen=True, slots=True)
class Answer:
    """One intake answer: the code, a human text, and the extra fields of the body."""

    code: FrontCode
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    #: Seconds for the ``Retry-After`` header (code 70 from backpressure).
    retry_after: int | None = None

    @property
    def http_status(self) -> int:
        return self.code.http_status

    def body(self) -> dict[str, Any]:
        ok = self.code.is_success
        out: dict[str, Any] = {"status": "success" if ok else "error", "code": str(int(self.code))}
        out["success" if ok else "error"] = self.text
        out.update(self.fields)
        return out


def answer(code: FrontCode, detail: str = "", **fields: Any) -> Answer:
    base = FRONT_MESSAGES[code]
    return Answer(code, f"{base} {detail}".strip() if detail else base, fields)


def refused(refusal: Refusal) -> Answer:
    """Code 70 from backpressure: nothing was accepted; retry after ``retry_after`` s."""
    return Answer(FrontCode.STORE_FAILED, refusal.text, retry_after=refusal.retry_after)


def type_name(value: Any) -> str:
    """A JSON value's kind, as an answer's text names it."""
    return {dict: "an object", list: "an array", bool: "a boolean", float: "a number", int: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def id_text(value: Any) -> str | None:
    """An id as text: strings as they are, integers (not booleans) in decimal."""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    return None
