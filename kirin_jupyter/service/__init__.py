"""The wire: HTTP to the gateway, its protocol, tolerant answers, the doctor's questions.
"""
