"""Professional vetting: applications, documents, checks, interviews, decisions, compliance."""
