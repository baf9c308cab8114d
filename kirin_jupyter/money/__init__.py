"""Money: prices (the service's quotes, else estimates from the journal) and the budget
(one job, many jobs, what is committed, what may be billed). The client composes them;
batches are handed them; neither imports the client.
"""
