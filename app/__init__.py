"""Use cases, services and the `cairn` command line; no QtWidgets here."""
