"""The service layer: what runs one Octavia request, a sync, or the event watcher.

``driver`` (one request: read -> plan -> commit through the backend's retry
loop), ``actions`` (an event's plan applied the same way), ``sync`` and
``sources`` (Octavia's view against NB), ``watch`` and ``sbwatch`` (NB and SB
events), ``replay`` (conformance files).  Nothing here computes a row: that is
:mod:`ovnlb_core`.
"""
