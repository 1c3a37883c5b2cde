"""The compatibility suite: each point-of-sale client style against a virtual register
through signed HTTP (``compat_helpers``), answers read with the clients' declared types
(``client_schemas``)."""
