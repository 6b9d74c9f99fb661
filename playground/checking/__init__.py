"""Check my server: a sandbox checked stage by stage over real sockets (docs/checks.md).

``engine`` runs the stages of ``stages.STAGES`` against a host and port; ``client``
reads the responses byte by byte, so a failure points at the exact byte; ``inputs``
makes the files each run asks for; ``hints`` names the classic mistakes. No module here
but the site's (runs, views) touches the database.
"""
