"""%kirin and %%kirin: the configurable, the option grammar, one module per subcommand.
"""
