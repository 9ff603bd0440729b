"""The encrypted space file: format, cryptography, tables, migrations and search."""
