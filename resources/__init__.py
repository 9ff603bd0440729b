"""Icons, stylesheets and translations (data only, read with importlib.resources)."""
