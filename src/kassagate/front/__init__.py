"""The front server: the intake protocol of ``front.md`` (envelope, keys, checks, status)."""
