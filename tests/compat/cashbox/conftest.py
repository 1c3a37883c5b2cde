"""The compatibility suite: each point-of-sale client style against a virtual register
through signed HTTP (``support.cashbox_compat``), answers read with the clients' declared types
(``support.cashbox_client_schemas``)."""
