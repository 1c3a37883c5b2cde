"""The front server: the intake protocol of ``docs/front.md`` (envelope, keys, checks, status)."""
