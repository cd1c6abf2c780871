"""The ``claude`` subscription CLI (npm @anthropic-ai/claude-code), run inside the ticket's
container because it executes its own tools.

One call is one whole ``claude -p`` session: the CLI runs its own tool loop on /workspace and
the answer is its final result. ``vendor`` is the ``Vendor`` (registered as ``claude-cli``) and
``options`` its ``vendor_options``; ``session`` stages the prompt and system prompt as files in
a private directory under /tmp; ``command`` builds the ``claude`` command line, its environment
and its egress route, and runs it under the watcher (``sandbox/claude_watch.py``, in-container
code), which ends the session early on a refused key, on a retry past the deadline, or at the
deadline; ``result`` turns what it printed into the response or the error. The container has
no network and never sees the key: the CLI reaches the API through the sandbox's egress proxy,
which sets the credential on the host and meters every exchange (the usage reported here).
"""
