"""The Lanner worker: one plain Python process serving one app for the Lanner master.

Started by the master as ``python -m lanner.worker`` (or through a bootstrap when the app's
interpreter does not have lanner installed). It talks to the master over one Unix socket with
the framed protocol of ``docs/protocol.md``; it never uses stdout for that.
Only the standard library is imported here.
"""
