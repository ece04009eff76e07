"""Load generators (Python and native engines) and the other clients: churn, idle holders, slow clients, stream readers, wrk."""
