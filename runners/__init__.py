"""Runners: thin glue that moves bytes between sockets and a scenario's server session.

Every runner module exposes serve(listener, make_session, options, ready): it serves
connections accepted on `listener` (already bound and listening, see concbench.fairness),
calls ready() once it is about to accept, and returns after SIGINT or SIGTERM.
Runners hold no scenario logic and set no socket options of their own, except the variants
that are a framework's own HTTP stack (registry `own_http_stack`, http only): they answer the
plaintext rules themselves, ignore make_session, and set TCP_NODELAY through the framework.
"""
