"""The process and its surroundings: hardening (offline switches, temp dirs, egress guard), remote
endpoints and their jurisdiction, and the verified model files."""
