"""The per-ticket Docker sandbox: image, workspace, container, exec and file tools, cleanup."""
