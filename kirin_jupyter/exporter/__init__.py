"""export() and history_frame(): the journal's results as files to share.
"""
