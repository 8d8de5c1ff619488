"""Operations figures: summary tables kept by the jobs, read by the figures page."""
