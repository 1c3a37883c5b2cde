"""The Cashbox protocol (``docs/cashbox.md``): wire format, the virtual register (core rules +
SQLite journal), its ASGI server, and the client with its transports (contract C3 of
``docs/architecture.md``)."""
