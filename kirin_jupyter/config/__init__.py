"""Settings: their table, checks and layers, and the settings files.
"""
