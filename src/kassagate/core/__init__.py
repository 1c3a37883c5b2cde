"""The rules of the domain. Nothing in this package does I/O: no files, no sockets, no
clock reads (time is passed in), no randomness that is not passed in or seeded."""
