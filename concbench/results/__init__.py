"""Result files: their format, the key registry, strict reading, the run file, what one measurement is."""
