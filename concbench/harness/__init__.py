"""The only code that starts or ends processes: one child-process class (child.py) speaking one line protocol
(protocol.py), the servers, backend service and measuring children built on it, environments, signals."""
