"""Built-in form templates (data only, read with importlib.resources)."""
