"""The records of mine action: the exchange-format tables, their validation and defaults."""
