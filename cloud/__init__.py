"""storegate cloud: the head-office side (ingest, fleet state, publishing, reports)."""
