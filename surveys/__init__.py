"""Satisfaction surveys (CSAT): one question after a solved case or a done service."""
