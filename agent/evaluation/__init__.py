"""Replaying questions against a knowledge folder (simulate) and the report it writes."""
