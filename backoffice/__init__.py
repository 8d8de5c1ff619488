"""Operations back office of a home-services marketplace."""
