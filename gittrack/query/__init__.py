"""Finding runs: the filter grammar, ordering, evaluation in Python and in SQL, and DataFrames."""
