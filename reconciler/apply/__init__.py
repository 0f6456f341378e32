"""Apply: the journal of issuing calls and the executor that makes them."""
