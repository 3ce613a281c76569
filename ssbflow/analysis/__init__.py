"""Pure numerics: no jobflow, no file I/O; units in names."""
