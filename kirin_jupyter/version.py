"""The package version, in one small module: the face, the records written into files
and the packaging all read it from here."""

__version__ = "0.1.0"
