"""Test doubles shipped with harness, for its own tests and for users testing their configs:
loopback servers that speak the vendors' real wire protocols, scripted per request."""
