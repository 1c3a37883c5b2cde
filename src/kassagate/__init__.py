"""kassagate: an open, self-hosted cloud fiscalization service.

Packages, by what they hold:

- ``core``: the rules of the domain (fiscal tables, response codes, the receipt, the
  fiscal drive, the register, the QR string). No I/O; tested fast.
- ``front``: the front server protocol (double RSA/AES envelope, intake, status).
- ``cashbox``: the Cashbox protocol of the register (wire format, server, client).
- ``storage``: the service database (SQLAlchemy Core, Alembic migrations).
- ``processing``: where an accepted receipt meets a register.
- ``client``: the merchant's client library.
- ``cli``: the ``kassagate`` command.
"""

__version__ = "0.1.0"
