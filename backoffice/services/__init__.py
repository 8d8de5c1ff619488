"""Service functions of the marketplace core: keyword-only, explicit session, they flush."""
