"""Shift, X/Z and date-range totals. Pure.

The open shift's totals are kept running in the register state (``add`` on every counted
document: an X or Z report never scans the journal); a closed shift's totals are stored
in its Z report; each day's totals are kept by the store (``add_to_day`` on every
counted document and shift opening, written with the document), and a date range
merges the days it covers (``merge``). ``totals`` sums a list of documents: what the
kept totals must equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kassagate.core.register.model import Doc

#: Report categories (prefix of the answer's field names).
CATEGORIES = ("sale", "moneyBack", "purchase", "purchaseBack", "prepay", "creditPay", "correction")
CASH_CATEGORIES = ("deposit", "withdraw")
#: The key of a day's running totals that counts the shifts opened that day.
SHIFT_COUNT = "shiftCount"
_KIND_FIELDS = {"C": "CashSum", "V": "CashlessSum", "K": "CreditSum", "B": "BonusSum", "P": "PrepaymentSum",
                "O": "OtherSum", "I": "InstallmentSum", "F": "InvoiceSum"}


def category(doc: Doc) -> str | None:
    """The report category of a document (None: not counted)."""
    if doc.kind in CASH_CATEGORIES:
        return doc.kind
    return doc.summary.get("cat") if doc.fd is not None else None


def _keys(cat: str) -> tuple[str, str, str, dict[str, str]]:
    return f"{cat}Count", f"{cat}Sum", f"{cat}Vat", {k: f"{cat}{f}" for k, f in _KIND_FIELDS.items()}


#: The running-total keys of each category: Count, Sum, Vat and the sum by payment kind.
_KEYS = {cat: _keys(cat) for cat in (*CATEGORIES, *CASH_CATEGORIES)}


def add(running: dict[str, Any], doc: Doc) -> dict[str, Any]:
    """``running`` plus ``doc`` (a new dict: the old one may be a snapshot)."""
    summary = doc.summary
    cat = doc.kind if doc.kind in CASH_CATEGORIES else (summary.get("cat") if doc.fd is not None else None)
    if cat is None:  # (category(doc), inline)
        return running
    count_key, sum_key, vat_key, kind_keys = _KEYS.get(cat) or _keys(cat)
    out = dict(running)
    out[count_key] = out.get(count_key, 0) + 1
    out[sum_key] = out.get(sum_key, 0) + doc.amount
    if cat in CASH_CATEGORIES:
        return out
    for kind, v in summary.get("pay", {}).items():
        key = kind_keys[kind]
        out[key] = out.get(key, 0) + v
    vat = summary.get("vat")
    if vat:
        vats = dict(out.get(vat_key, {}))
        for prc, v in vat.items():
            vats[prc] = vats.get(prc, 0) + v
        out[vat_key] = vats
    return out


def render(running: dict[str, Any]) -> dict[str, Any]:
    """The report fields: for each category Count, Sum, sums by payment kind, VatAmounts."""
    out: dict[str, Any] = {}
    for cat in CATEGORIES:
        out[f"{cat}Count"] = running.get(f"{cat}Count", 0)
        out[f"{cat}Sum"] = running.get(f"{cat}Sum", 0)
        for f in _KIND_FIELDS.values():
            out[f"{cat}{f}"] = running.get(f"{cat}{f}", 0)
        vats = running.get(f"{cat}Vat", {})
        out[f"{cat}VatAmounts"] = [{"vatPercent": int(p), "vatAmount": v}
                                   for p, v in sorted(vats.items(), key=lambda x: int(x[0]))]
    for cat in CASH_CATEGORIES:
        out[f"{cat}Count"] = running.get(f"{cat}Count", 0)
        out[f"{cat}Sum"] = running.get(f"{cat}Sum", 0)
    return out


def totals(docs: list[Doc]) -> dict[str, Any]:
    """The report fields of a list of documents."""
    running: dict[str, Any] = {}
    for d in docs:
        running = add(running, d)
    return render(running)


def add_to_day(running: dict[str, Any], doc: Doc) -> dict[str, Any]:
    """``add``, and a shift opening counted under ``SHIFT_COUNT`` (a day's totals)."""
    if doc.kind == "open_shift":
        out = dict(running)
        out[SHIFT_COUNT] = out.get(SHIFT_COUNT, 0) + 1
        return out
    return add(running, doc)


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The running totals ``a`` and ``b`` together (a new dict)."""
    out = dict(a)
    for key, v in a.items():
        if v.__class__ is dict:
            out[key] = dict(v)
    return merge_into(out, b)


def merge_into(out: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``out`` plus ``b``, in place (``out`` must be the caller's own, its VAT dicts too)."""
    for key, v in b.items():
        if v.__class__ is dict:
            vats = out.get(key)
            if vats is None:
                out[key] = dict(v)
            else:
                for prc, n in v.items():
                    vats[prc] = vats.get(prc, 0) + n
        else:
            out[key] = out.get(key, 0) + v
    return out
