"""Pipeline stages: each runs standalone as `python stages/NAME.py` from the project root."""
