"""%kirin and %%kirin: the configurable, the option grammar, one generation from a line,
one follower, and one module per subcommand (commands/).
"""
