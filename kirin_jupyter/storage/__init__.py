"""What is kept on disk: the journal, its writer, host facts, result files and the record
inside them, thumbnails.
"""
