"""The intake: the checks of a fiscalization request, in the order of the front
protocol's table (``docs/front.md``), each group of codes decided in its own module by pure
functions that return an :class:`Answer` when they decide the request, ``None`` (or the
data the next step needs) when it goes on:

- ``outer.py``: the outer body and the envelope (100, 90/150, 120, 130, 110/260);
- ``accounts.py``: the kassa or cluster (270-320, 40, 50, 160-220, 330, 340) and the kassa
  of a cluster that takes the request (200);
- ``receipt.py``: layer 1, the vending fields, the receipt rules, the RID (60, 350, 4040,
  230, 810);
- ``debug.py``: a debug kassa's fake fiscal data (390); ``wait.py``: the synchronous option;
- ``pipeline.py``: :class:`Intake`, which runs them around the I/O and stores the request.
"""

from __future__ import annotations

from kassagate.front.intake.answer import Answer, Mode
from kassagate.front.intake.pipeline import Handover, Intake

__all__ = ["Answer", "Handover", "Intake", "Mode"]
