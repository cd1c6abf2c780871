"""The ``gemini`` CLI (npm @google/gemini-cli, pinned 0.61.0), run inside the ticket's container.

One ``complete`` is one whole headless agent session: the CLI runs its own tools on /workspace
and answers once. ``vendor`` is the ``Vendor`` (registered as ``gemini-cli``) and ``options`` its
``vendor_options``; ``session`` is the session's private directory under /tmp (its HOME with
settings.json and the system text as its global GEMINI.md, and the prompt; nothing the session
starts outlives its exec, and the directory goes when the next session is staged);
``prompt`` is what the CLI is told and how a structured answer is read back; ``command`` builds
the ``gemini`` command line, its settings, its environment and its egress route; ``result``
reads what the CLI printed. The container never sees the key: the CLI reaches the API through
the sandbox's egress proxy, which sets the key on the host and meters every exchange.

The CLI has no reasoning flag; its settings.json ``modelConfigs`` pass a ``thinkingConfig``
through to the API, so tiers map to that file rather than to a flag (see ``command``).
It has no schema flag either: ``output_schema`` is asked for in the prompt and the JSON is
taken from the final answer. Its answer carries no finish reason and no tool calls (they ran
inside), so every response is ``end_turn``.
"""
