"""Icons and other assets, found next to this file (see gui/icons.py)."""
