"""The limits of a fiscal document, in one table: the front's receipt rules and the
register's document rules both read them, so that nothing the front accepts is refused by
a register for its size.

Money is in kopecks; a quantity is in thousandths of a unit.
"""

from __future__ import annotations

#: The largest money value of a document: its total, a line's amount before and after its
#: discount, and each payment (10^13 kopecks = 100 billion roubles).
MAX_MONEY = 10**13
#: The largest quantity of a line, in thousandths: one billion units.
MAX_QTY = 10**12
#: The most lines a document may have.
MAX_ITEMS = 1000
