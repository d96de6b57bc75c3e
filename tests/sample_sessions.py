"""Sessions the tests run (importable, as rq keeps its job functions in a module)."""
