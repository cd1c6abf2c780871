"""Fakes shipped with harness, for its own tests and for users testing their configs: loopback
servers that speak the vendors' real wire protocols, scripted per request, and bill prompt
caching as the vendors document it. (The test *suite* a ticket runs in its sandbox is
``harness.sandbox.testrun``; nothing here is about it.)"""
