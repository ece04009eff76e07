"""Scenario logic, once, without I/O (h11 style).

A scenario owns its wire format: what a server session answers to the bytes it
receives, and what a client must send and expect back. No module here touches a
socket, a clock or an event loop; runners and the load generator do the I/O.
"""
