"""kassagate's merchant client library: send receipts to a kassagate front server.

```python
from kassagate.client import KassaClient, Line, make_receipt

with KassaClient("https://kassa.example", kassaid="123456", kassatoken="...") as kassa:
    answer = kassa.send(make_receipt([Line("Tea", 15000)], tax_system=1, email="a@b.ru"), rid="order-1")
```

This package exports what a merchant uses: the two clients, their answer and status types,
the receipt builder, the published keys (to pin them) and the errors. The envelope's steps
(``kassagate.client.envelope``), the answer parsers (``kassagate.client.answers``) and the
receipt types and rules (``kassagate.core.receipt``) are reached through their modules.

It builds the double envelope itself and never imports the server (``kassagate.front``,
``kassagate.storage``). See ``docs/client.md``.
"""

from kassagate.client.answers import (
    Answer,
    ClientError,
    ProtocolError,
    ReceiptInvalid,
    Status,
    StatusNotFound,
    TransportError,
    WaitTimeout,
)
from kassagate.client.builder import Line, make_receipt
from kassagate.client.envelope import PublicKeys
from kassagate.client.http import AsyncKassaClient, KassaClient

__all__ = [
    "Answer",
    "AsyncKassaClient",
    "ClientError",
    "KassaClient",
    "Line",
    "ProtocolError",
    "PublicKeys",
    "ReceiptInvalid",
    "Status",
    "StatusNotFound",
    "TransportError",
    "WaitTimeout",
    "make_receipt",
]
