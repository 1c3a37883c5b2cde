"""kassagate's merchant client library: send receipts to a kassagate front server.

```python
from kassagate.client import KassaClient, Line, make_receipt

with KassaClient("https://kassa.example", kassaid="123456", kassatoken="...") as kassa:
    answer = kassa.send(make_receipt([Line("Tea", 15000)], tax_system=1, email="a@b.ru"), rid="order-1")
```

It builds the double envelope itself (``kassagate.client.envelope``) and never imports the
server (``kassagate.front``, ``kassagate.storage``). See ``docs/client.md``.
"""

from kassagate.client.answers import (
    ACCEPTED_CODES,
    Answer,
    ClientError,
    ProtocolError,
    ReceiptInvalid,
    Status,
    StatusNotFound,
    TransportError,
    WaitTimeout,
    parse_answer,
    parse_status,
)
from kassagate.client.builder import Line, make_receipt
from kassagate.client.envelope import (
    KeysError,
    PublicKeys,
    encode_json,
    encrypt_layer,
    layer2_payload,
    outer_body,
    seal,
)
from kassagate.client.http import AsyncKassaClient, KassaClient, moscow_today
from kassagate.core.receipt import Correction, Payment, Product, Receipt, ReceiptError, Total, parse_receipt

__all__ = [
    "ACCEPTED_CODES",
    "Answer",
    "AsyncKassaClient",
    "ClientError",
    "Correction",
    "KassaClient",
    "KeysError",
    "Line",
    "Payment",
    "Product",
    "ProtocolError",
    "PublicKeys",
    "Receipt",
    "ReceiptError",
    "ReceiptInvalid",
    "Status",
    "StatusNotFound",
    "Total",
    "TransportError",
    "WaitTimeout",
    "encode_json",
    "encrypt_layer",
    "layer2_payload",
    "make_receipt",
    "moscow_today",
    "outer_body",
    "parse_answer",
    "parse_receipt",
    "parse_status",
    "seal",
]
