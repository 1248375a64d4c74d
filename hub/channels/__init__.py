"""Delivery channels: one module each, one registry line."""
