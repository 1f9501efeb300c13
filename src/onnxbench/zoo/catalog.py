"""Imports every built-in spec so it registers itself (filled in by the zoo modules)."""
