"""The template engine: template files, answers, computed values and rendering (Qt-free)."""
