"""The ground floor: errors' helpers, file modes, reading a user's file, retries, which front
end runs. Imports nothing of the package above it.
"""
