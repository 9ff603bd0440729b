"""The PySide6 desktop app: renders and wires, never touches SQL, keys or HTTP."""
