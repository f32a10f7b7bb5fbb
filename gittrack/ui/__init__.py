"""The web UI (``gittrack ui``) and the static HTML report (``gittrack report``).

Everything here calls the public :class:`gittrack.Client` only. The web stack (starlette,
uvicorn, jinja2, plotly's bundled JS) comes with the ``ui`` extra and is imported only by these
modules, never by ``import gittrack``.
"""
