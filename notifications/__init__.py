"""Notifications: what clients and professionals are told about their bookings, once each."""
