"""Finding runs, in one package: the filter grammar (``filter``), ordering (``order``), the Python
and SQL evaluation paths (``evaluate``, ``sql``) that must agree, the flat rows both work on
(``rows``), the SQLite search cache (``cache``), DataFrames (``frame``) and the searches
themselves (``service``)."""
