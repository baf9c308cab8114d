"""The models as data and one validated request: spec, request, reference images, quotes, the
record a result carries.
"""
