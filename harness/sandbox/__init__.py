"""The per-ticket Docker sandbox, host side: image, workspace, container, exec and file tools,
the egress proxy, cleanup. What runs inside the container is the top-level ``sandbox/``
directory (stdlib Python on the image's interpreter; sandbox/README.md), which this package
copies into the image or sends as source."""
