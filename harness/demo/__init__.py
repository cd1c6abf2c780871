"""The bundled demo: a small TypeScript repository, a ticket, a stages file routing every stage
to the scripted vendor, and the scripts that play each stage (``script``)."""
