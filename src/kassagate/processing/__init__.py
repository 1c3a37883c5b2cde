"""Processing: where an accepted receipt meets a register.

``mapping`` (pure) turns a receipt into a Cashbox document; ``routing`` (pure) picks a
register of a cluster; ``worker`` claims accepted requests from the database, fiscalizes
each exactly once and records the outcome; ``callbacks`` tells the merchant.
"""
